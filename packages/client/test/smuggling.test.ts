/**
 * SMTP smuggling (CVE-2023-51764/5/6), the encoder on its own: whatever body
 * a caller hands the client, split however a stream splits it, the DATA
 * bytes hold no end-of-data before the real one and no bare CR or LF, and
 * BDAT carries the canonical text. Counted: at least 100,000 cases a run.
 * The same checks through the whole client, over a socket, and against a
 * real Postfix are @effect-smtp/node's test/hardening/smuggling.test.ts.
 */
import { prop } from "@effect-smtp/test-utils/property"
import { checkBdatBody, checkDataBody, cuts, hostileBody, splitAt } from "@effect-smtp/test-utils/wire"
import { afterAll, describe, expect } from "@effect/vitest"
import { encodeAll } from "./utils/encoder.js"

/**
 * Cases per property; their sum is the run's total, checked at the end. The
 * encoder is where the normalisation lives and costs microseconds a case.
 */
const runs = {
  encoderData: 100_000,
  encoderBdat: 40_000
}
const planned = Object.values(runs).reduce((a, b) => a + b, 0)
let executed = 0

afterAll(() => {
  // Every planned case ran (a skipped or shortened property would lower the count).
  expect(executed).toBe(planned)
  expect(executed).toBeGreaterThanOrEqual(100_000)
})

describe("smuggling: the encoder", () => {
  prop(
    `DATA: ${runs.encoderData} bodies split arbitrarily`,
    [hostileBody, cuts],
    ([body, at]) => {
      executed++
      checkDataBody(encodeAll(true, splitAt(body, at)), body)
    },
    { fastCheck: { numRuns: runs.encoderData } }
  )

  prop(
    `BDAT: ${runs.encoderBdat} bodies split arbitrarily`,
    [hostileBody, cuts],
    ([body, at]) => {
      executed++
      checkBdatBody(encodeAll(false, splitAt(body, at)), body)
    },
    { fastCheck: { numRuns: runs.encoderBdat } }
  )
})
