/**
 * The demo's embedded server: the test server engine of @effect-smtp/testing
 * on loopback (`MisbehavingServer`, without faults but one), with a
 * certificate made at start, STARTTLS and AUTH. Recipients at
 * `rejected.example` get 550.
 */
import { MisbehavingServer, TestCertificates } from "@effect-smtp/testing/node"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Crypto from "node:crypto"

export interface DemoServer {
  readonly port: number
  /** A loopback port nothing listens on. */
  readonly closedPort: number
  readonly ca: string
  readonly user: string
  readonly password: Redacted.Redacted<string>
  /** The messages the server accepted. */
  readonly received: Effect.Effect<ReadonlyArray<MisbehavingServer.ReceivedMessage>>
}

export const startDemoServer = Effect.gen(function*() {
  const { ca, cert, key } = TestCertificates.generate()
  const user = "demo"
  const password = Crypto.randomBytes(12).toString("base64url")
  const server = yield* MisbehavingServer.make({
    tls: { key, cert },
    auth: { user, password, mechanisms: ["PLAIN", "LOGIN", "CRAM-MD5"] },
    faults: ({ command, stage }) =>
      stage === "rcpt" && /@rejected\.example>/i.test(command)
        ? MisbehavingServer.permanent("550 5.1.1 Mailbox does not exist")
        : undefined
  })
  const closedPort = yield* MisbehavingServer.closedPort
  const demo: DemoServer = {
    port: server.port,
    closedPort,
    ca,
    user,
    password: Redacted.make(password),
    received: server.messages
  }
  return demo
})
