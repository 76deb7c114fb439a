/**
 * The test kit's metrics recorder, and a count of this process's TCP handles.
 */
export { metricsRecorder as recorder } from "@effect-smtp/testing/SmtpTestKit"
export type { MetricsRecorder as Recorder, RecordedEvent as Recorded } from "@effect-smtp/testing/SmtpTestKit"

/** Node's count of open TCP handles in this process (client and server sides alike). */
export const openTcpHandles = (): number =>
  process.getActiveResourcesInfo().filter((name) => name === "TCPSocketWrap").length
