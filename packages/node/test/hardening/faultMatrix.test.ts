/**
 * The fault matrix: every stage of a session × every way a server can
 * misbehave there, against the real Node transport (STARTTLS with a real TLS
 * upgrade, AUTH PLAIN, PIPELINING) and short real timeouts; the body and end
 * stages again over BDAT; the transaction stages again through a pool. For
 * each case:
 * - the send fails with a typed error of the right class (or succeeds, where
 *   the fault comes after the message was accepted), within the timeout; a
 *   transport failure after the end of the message was written is a
 *   `DeliveryUnknownError` wrapping it;
 * - the connection is closed: the server sees no open connection and the
 *   process holds no more TCP handles than before (a pool keeps a session
 *   that is still in step, and only that);
 * - the failure is in the metrics, with the documented attributes;
 * - the next send succeeds, on a fresh connection (or the kept one).
 *
 * `faultMatrixClock.test.ts` runs the same matrix in memory under TestClock,
 * for the exact timing.
 */
import { SmtpClient, type SmtpError, SmtpTelemetry } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { MisbehavingServer } from "@effect-smtp/testing/node"
import { testCertificates } from "@effect-smtp/testing/TestCertificates"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { openTcpHandles, recorder } from "../utils/recordingMetrics.js"

const timeout = Duration.millis(300)
/** What a loaded 2-core CI machine may add to a failure that needs no waiting. */
const slack = Duration.millis(1500)

type FaultName =
  | "close"
  | "reset"
  | "stall"
  | "garbage"
  | "long line"
  | "endless continuation"
  | "421"
  | "4xx"
  | "5xx"
  | "220 + injected lines"

const faults: ReadonlyArray<readonly [FaultName, MisbehavingServer.Fault]> = [
  ["close", MisbehavingServer.close],
  ["reset", MisbehavingServer.reset],
  ["stall", MisbehavingServer.stall],
  ["garbage", MisbehavingServer.garbage()],
  ["long line", MisbehavingServer.longLine()],
  ["endless continuation", MisbehavingServer.endlessContinuation()],
  ["421", MisbehavingServer.serviceClosing()],
  ["4xx", MisbehavingServer.transient()],
  ["5xx", MisbehavingServer.permanent()]
]

type Mode = "DATA" | "BDAT"

interface Case {
  readonly stage: MisbehavingServer.Stage
  readonly faultName: FaultName
  readonly fault: MisbehavingServer.Fault
  readonly mode: Mode
  /** Sends through a connection pool: the failed connection must be retired, a healthy one kept. */
  readonly pool: boolean
}

/** The stages of a transaction, where a pool decides whether a connection lives on. */
const transactionStages: ReadonlyArray<MisbehavingServer.Stage> = ["mail", "rcpt", "data", "body", "end"]

/**
 * Every stage × every fault over DATA, one connection per send; the stages
 * BDAT changes (body, end) again over BDAT; the STARTTLS injection; and the
 * transaction stages × every fault again through a pool.
 */
const cases: ReadonlyArray<Case> = [
  ...MisbehavingServer.stages.flatMap((stage) =>
    faults.map(([faultName, fault]): Case => ({ stage, faultName, fault, mode: "DATA", pool: false }))
  ),
  ...(["body", "end"] as const).flatMap((stage) =>
    faults.map(([faultName, fault]): Case => ({ stage, faultName, fault, mode: "BDAT", pool: false }))
  ),
  {
    stage: "starttls",
    faultName: "220 + injected lines",
    fault: MisbehavingServer.startTlsInjection(),
    mode: "DATA",
    pool: false
  },
  ...transactionStages.flatMap((stage) =>
    faults.map(([faultName, fault]): Case => ({ stage, faultName, fault, mode: "DATA", pool: true }))
  )
]

/** Where the failure surfaces, so which instrument must carry it. */
type Phase = "connect" | "auth" | "send" | "after"

const phaseOf = (stage: MisbehavingServer.Stage): Phase =>
  stage === "greeting" || stage === "ehlo" || stage === "starttls"
    ? "connect"
    : stage === "auth"
    ? "auth"
    : stage === "quit"
    ? "after"
    : "send"

interface Expected {
  /** `undefined`: the send succeeds (the fault came after the message was accepted). */
  readonly tag: SmtpError.SmtpError["_tag"] | undefined
  /** For a `DeliveryUnknownError`: what failed after the end of the message was written. */
  readonly cause?: SmtpError.SmtpError["_tag"] | undefined
  readonly statusCode?: number | undefined
}

/**
 * Once the end of the message is written (the whole small body is, before a
 * mid-body fault shows), a lost reply leaves the delivery unknown: the
 * transport failure comes wrapped in `DeliveryUnknownError`. A reply (421,
 * 4xx, 5xx) is an answer, so it stays a command error.
 */
const afterEnd = (stage: MisbehavingServer.Stage, tag: SmtpError.SmtpError["_tag"]): Expected =>
  stage === "body" || stage === "end" ? { tag: "DeliveryUnknownError", cause: tag } : { tag }

const expectedOf = ({ faultName, stage }: Case): Expected => {
  if (phaseOf(stage) === "after") return { tag: undefined }
  switch (faultName) {
    case "close":
    case "reset":
      return afterEnd(stage, "SocketError")
    case "stall":
      return afterEnd(stage, "TimeoutError")
    case "garbage":
    case "long line":
    case "endless continuation":
    case "220 + injected lines":
      return afterEnd(stage, "SmtpProtocolError")
    case "421":
      // 421 ends the session whatever was asked, so even AUTH reports the command error.
      return { tag: "SmtpCommandError", statusCode: 421 }
    case "4xx":
      return { tag: stage === "auth" ? "AuthenticationError" : "SmtpCommandError", statusCode: 451 }
    case "5xx":
      return { tag: stage === "auth" ? "AuthenticationError" : "SmtpCommandError", statusCode: 554 }
  }
}

/** The command an `SmtpCommandError` must name (a 421 after the body names the wait it ended instead). */
const commandOf = (c: Case): string | undefined => {
  if (c.faultName === "421" && (c.stage === "body" || c.stage === "end" || c.stage === "ehlo")) return undefined
  switch (c.stage) {
    case "mail":
      return "MAIL FROM"
    case "rcpt":
      return "RCPT TO"
    case "data":
      return "DATA"
    case "body":
    case "end":
      return c.mode
    case "ehlo":
      return "EHLO"
    case "starttls":
      return "STARTTLS"
    default:
      return undefined
  }
}

/** Errors after which the session cannot go on: connection.duration must carry them. */
const breaksSession = (error: SmtpError.SmtpError): boolean =>
  error._tag === "SocketError" || error._tag === "TimeoutError" || error._tag === "SmtpProtocolError" ||
  error._tag === "TlsError" || error._tag === "DeliveryUnknownError" ||
  (error._tag === "SmtpCommandError" && error.statusCode === 421)

/** What ended the session: for a `DeliveryUnknownError`, the failure it wraps. */
const sessionError = (error: SmtpError.SmtpError): SmtpError.SmtpError =>
  error._tag === "DeliveryUnknownError" ? error.cause : error

const user = "matrix-user"
const password = "matrix-password"

const content = [
  "From: a@example.com",
  "To: b@example.com",
  "Subject: fault matrix",
  "",
  ...Array.from({ length: 40 }, (_, i) => `line ${i}: the quick brown fox jumps over the lazy dog`),
  ".a line with a leading dot",
  ""
].join("\r\n")

const mail = { from: "a@example.com", to: ["b@example.com"], content }

/** Bounded polling of the process' TCP handles, on the wall clock. */
const awaitHandles = (count: number, within: Duration.Duration) =>
  Effect.promise(async () => {
    const deadline = Date.now() + Duration.toMillis(within)
    while (openTcpHandles() !== count && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    return openTcpHandles()
  })

const runCase = (c: Case) =>
  Effect.gen(function*() {
    const { ca, cert, key } = testCertificates()
    const baseline = openTcpHandles()
    let struck = false
    const server = yield* MisbehavingServer.make({
      tls: { key, cert },
      chunking: c.mode === "BDAT",
      auth: { user, password },
      // The fault strikes once: the next send must work, on a fresh connection
      // or (a pool, after a failure that leaves the session in step) the same one.
      faults: ({ stage }) => {
        if (struck || stage !== c.stage) return undefined
        struck = true
        return c.fault
      }
    })
    const metrics = recorder()
    const client = NodeSmtp.layerWithMetrics({
      host: "127.0.0.1",
      port: server.port,
      security: "starttls",
      tls: { ca },
      auth: { user, password: Redacted.make(password), mechanism: "PLAIN" },
      timeout,
      ...(c.pool ? { pool: { maxConnections: 1 } } : {})
    }).pipe(Layer.provide(metrics.layer))
    const expected = expectedOf(c)

    yield* Effect.gen(function*() {
      const started = Date.now()
      const result = yield* Effect.result(SmtpClient.send(mail))
      const elapsed = Duration.millis(Date.now() - started)

      // 1. The right outcome, in time.
      if (expected.tag === undefined) {
        expect(Result.isSuccess(result), `expected success, got ${JSON.stringify(result)}`).toBe(true)
      } else {
        if (Result.isSuccess(result)) return expect.unreachable(`expected ${expected.tag}, the send succeeded`)
        const error = result.failure
        expect(error._tag, error.message).toBe(expected.tag)
        if (expected.statusCode !== undefined) {
          expect("statusCode" in error ? error.statusCode : undefined).toBe(expected.statusCode)
        }
        if (error._tag === "SmtpCommandError") {
          const command = commandOf(c)
          if (command !== undefined) expect(error.command).toBe(command)
          // A refused recipient is named; a 421 aborts the transaction, naming the command only.
          if (c.stage === "rcpt" && c.faultName !== "421") {
            expect(error.rejectedRecipients?.map((r) => r.recipient)).toEqual(mail.to)
          }
        }
        if (error._tag === "SmtpProtocolError" && c.faultName === "220 + injected lines") {
          expect(error.reason).toBe("StartTlsInjection")
        }
        if (error._tag === "DeliveryUnknownError") {
          expect(error.cause._tag).toBe(expected.cause)
          expect(error.recipients).toEqual(mail.to)
          expect(error.retryable).toBe(false)
        }
      }
      const waits = c.faultName === "stall"
      if (waits) expect(Duration.toMillis(elapsed)).toBeGreaterThanOrEqual(Duration.toMillis(timeout) - 5)
      expect(Duration.toMillis(elapsed)).toBeLessThan(Duration.toMillis(Duration.sum(timeout, slack)))

      // 2. The connection is closed on both ends; a pool keeps only a session still in step.
      const failure = Result.isFailure(result) ? result.failure : undefined
      const involuntary = failure !== undefined && breaksSession(failure)
      const kept = c.pool && !involuntary
      expect(yield* server.awaitOpenConnections(kept ? 1 : 0)).toBe(kept ? 1 : 0)
      if (!kept) expect(yield* awaitHandles(baseline, Duration.seconds(2))).toBe(baseline)

      // 3. The metrics, with the attributes a backend exports.
      // A reset can beat the connect itself (the RST arrives before the
      // handshake is reported): then no connection was made, and the spec's
      // "when available" peer address is absent.
      const connected = !(failure?._tag === "SocketError" && failure.operation === "connect")
      const facts = {
        ...(connected ? { "network.peer.address": "127.0.0.1" } : {}),
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "url.scheme": "smtp"
      }
      const errorAttributes = failure === undefined
        ? {}
        : SmtpTelemetry.outcomeAttributes({ _tag: "Failure", error: failure })
      if (failure !== undefined) {
        expect(errorAttributes["error.type"]).toBe(expected.tag)
        expect(errorAttributes["smtp.status_code"]).toBe(expected.statusCode)
        // socket.error travels exactly when the OS gave a code (ECONNRESET for a reset we were reading).
        const cause = sessionError(failure)
        expect(errorAttributes["socket.error"] !== undefined).toBe(
          cause._tag === "SocketError" && cause.code !== undefined
        )
      }
      const connects = metrics.clientConnect()
      const sends = metrics.messageSend()
      const ends = metrics.connectionEnd()
      expect(connects).toHaveLength(1)
      const phase = phaseOf(c.stage)
      if (phase === "connect") {
        expect(SmtpTelemetry.clientAttributes(connects[0]!)).toStrictEqual({ ...facts, ...errorAttributes })
        expect(sends).toHaveLength(0)
        expect(ends).toHaveLength(0)
      } else {
        expect(SmtpTelemetry.clientAttributes(connects[0]!)).toStrictEqual(facts)
        // A kept pooled connection has not ended yet.
        expect(ends).toHaveLength(kept ? 0 : 1)
        if (!kept) {
          // The session ended on what broke it (for an unknown delivery, the transport's failure).
          const endAttributes = failure === undefined
            ? {}
            : SmtpTelemetry.outcomeAttributes({ _tag: "Failure", error: sessionError(failure) })
          expect(SmtpTelemetry.clientAttributes(ends[0]!)).toStrictEqual(
            involuntary ? { ...facts, ...endAttributes } : facts
          )
        }
        if (phase === "auth") {
          expect(sends).toHaveLength(0)
        } else {
          expect(sends).toHaveLength(1)
          expect(SmtpTelemetry.clientAttributes(sends[0]!)).toStrictEqual({ ...facts, ...errorAttributes })
        }
      }
      const before = yield* server.connections
      expect(before[0]!.faults).toContain(c.stage)

      // 4. The next send works, on a fresh connection (or the kept one).
      metrics.clear()
      const next = yield* SmtpClient.send({ ...mail, content: `${content}next\r\n` })
      expect(next.accepted).toEqual(mail.to)
      expect(yield* server.acceptedConnections).toBe(kept ? 1 : 2)
      const messages = yield* server.messages
      expect(messages.at(-1)!.connection).toBe(kept ? 1 : 2)
      expect(messages.at(-1)!.via).toBe(c.mode)
      expect(messages.at(-1)!.tls).toBe(true)
      expect(metrics.messageSend().map((e) => e.outcome._tag)).toEqual(["Success"])
    }).pipe(Effect.provide(client))

    // Whatever the client pools, nothing stays open once its layer is gone.
    expect(yield* server.awaitOpenConnections(0)).toBe(0)
    expect(yield* awaitHandles(baseline, Duration.seconds(2))).toBe(baseline)
  })

describe(`fault matrix: ${cases.length} cases`, () => {
  for (const c of cases) {
    const expected = expectedOf(c)
    it.live(
      `${c.stage} × ${c.faultName} (${c.mode}${c.pool ? ", pool" : ""}) → ${expected.tag ?? "delivered"}${
        expected.statusCode !== undefined ? ` ${expected.statusCode}` : ""
      }`,
      () => runCase(c)
    )
  }
})
