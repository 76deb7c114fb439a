import * as Duration from "effect/Duration"
import type { Timeouts } from "../SmtpProtocol.js"

/** The defaults of every wait, and timeouts resolved from one value and finer overrides. */

/** @internal */
export const defaults: Timeouts = {
  connect: Duration.minutes(2),
  // Not RFC 5321's 5 minutes (a server-to-server figure): an application waits
  // for a relay, and a silent port is more often a TLS port reached in
  // plaintext than a slow server. 1 minute lies between nodemailer's 30 s and
  // MailKit's 2 minutes, and far above deliberate greeting delays (Postfix
  // postscreen's 6 s, sendmail's greet_pause of a few seconds).
  greeting: Duration.minutes(1),
  command: Duration.minutes(5),
  mail: Duration.minutes(5),
  rcpt: Duration.minutes(5),
  dataInitiation: Duration.minutes(2),
  dataBlock: Duration.minutes(3),
  dataTermination: Duration.minutes(10)
}

/** @internal */
export const resolve = (
  timeout?: Duration.Input | undefined,
  overrides?: { readonly [K in keyof Timeouts]?: Duration.Input | undefined } | undefined
): Timeouts => {
  const base = timeout === undefined ? undefined : Duration.fromInputUnsafe(timeout)
  const result: Record<string, Duration.Duration> = {}
  for (const key of Object.keys(defaults) as Array<keyof Timeouts>) {
    const override = overrides?.[key]
    result[key] = override !== undefined ? Duration.fromInputUnsafe(override) : base ?? defaults[key]
  }
  return result as unknown as Timeouts
}
