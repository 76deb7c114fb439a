import type { Summary } from "./startWorker.js"

/** What the server and the outbox say about every message of the batch. */
export const tally = (
  batch: string,
  summary: ReadonlyArray<Summary>,
  counts: Map<string, number>
) => {
  let sent = 0
  let unknown = 0
  let lost = 0
  let duplicated = 0
  let other = 0
  let unknownDelivered = 0
  let retried = 0
  for (const { attempts, n, state } of summary) {
    const delivered = counts.get(`<${batch}-${n}@outbox.test>`) ?? 0
    if (delivered > 1) duplicated++
    if (state === "Sent") {
      sent++
      // An attempt cut before the durable record, then sent again.
      if (attempts > 1) retried++
      if (delivered === 0) lost++
    } else if (state === "Unknown") {
      unknown++
      if (delivered === 1) unknownDelivered++
    } else {
      other++
    }
  }
  return { messages: summary.length, sent, retried, unknown, unknownDelivered, lost, duplicated, other }
}
