/**
 * The servers the OpenTelemetry tests send to: the test server engine of
 * @effect-smtp/testing over TCP on loopback (`MisbehavingServer`), either
 * well behaved, with STARTTLS or TLS from the first byte and AUTH, or bare and
 * misbehaving as a scenario says; and the credentials and trust that go with
 * them.
 */
import { MisbehavingServer, TestCertificates } from "@effect-smtp/testing/node"
import * as Redacted from "effect/Redacted"

/** Alice's password on `smtpServer`. */
export const password = "correct horse battery staple"

/** AUTH PLAIN as alice with `secret` (the right one is `password`). */
export const alice = (secret: string) => ({
  user: "alice",
  password: Redacted.make(secret),
  mechanism: "PLAIN" as const
})

/** The client's TLS options that trust the test CA the servers' certificate comes from. */
export const trusted = () => ({ ca: TestCertificates.testCertificates().ca })

/**
 * A well-behaved server with AUTH PLAIN and LOGIN for alice (not required);
 * STARTTLS unless `tls` is "none", TLS from the first byte with "implicit".
 * Recipients starting with "reject" are refused with 550 5.1.1.
 */
export const smtpServer = (tls: "starttls" | "implicit" | "none" = "starttls") => {
  const { cert, key } = TestCertificates.testCertificates()
  return MisbehavingServer.make({
    ...(tls === "none" ? {} : { tls: { key, cert, implicit: tls === "implicit" } }),
    auth: { user: "alice", password, required: false },
    faults: ({ command, stage }) =>
      stage === "rcpt" && /^RCPT TO:<reject/i.test(command)
        ? MisbehavingServer.permanent("550 5.1.1 No such user")
        : undefined
  })
}

/**
 * A bare server named `raw.test` (unless `options.hostname` says otherwise):
 * EHLO without extensions (so no pipelining), no TLS, no AUTH; it misbehaves
 * as `options` say.
 */
export const rawServer = (options: MisbehavingServer.Options = {}) =>
  MisbehavingServer.make({ hostname: "raw.test", capabilities: [], ...options })
