// The TypeScript application: what a user writes, type-checked strictly
// against the published declarations (with nodenext and with bundler).
import { SmtpClient, SmtpError, SmtpMetrics, SmtpProtocol } from "@effect-smtp/client"
import * as SmtpErrorModule from "@effect-smtp/client/SmtpError"
import { MailMessage } from "@effect-smtp/message"
import { NodeSmtp, NodeSocket } from "@effect-smtp/node"
import { OtelSmtpMetrics } from "@effect-smtp/opentelemetry"
import { SmtpTestKit, TestServer, TestSocket } from "@effect-smtp/testing"
import { MisbehavingServer, TestCertificates } from "@effect-smtp/testing/node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"

export const options: SmtpClient.Options = {
  host: "smtp.example.com",
  auth: { user: "app@example.com", password: Redacted.make("secret") },
  timeout: "10 seconds"
}

export const composed: Layer.Layer<SmtpClient> = SmtpClient.layer(options).pipe(
  Layer.provide(SmtpProtocol.layer),
  Layer.provide(NodeSocket.layer),
  Layer.provide(OtelSmtpMetrics.layer())
)

export const send: Effect.Effect<SmtpClient.SendResult, SmtpError.SmtpError> = SmtpClient.send({
  from: "app@example.com",
  to: ["alice@example.com"],
  content: "Subject: hi\r\n\r\nhello\r\n"
}).pipe(Effect.provide(NodeSmtp.layer(options)))

export const handled = send.pipe(
  Effect.catchTag("SmtpCommandError", (error: SmtpErrorModule.SmtpCommandError) => Effect.succeed(error.statusCode))
)

export const composedMessage = Effect.flatMap(
  MailMessage.compose({ from: "a@example.com", to: ["b@example.com"], subject: "Grüße", text: "hi" }),
  (message) => SmtpClient.send(message)
).pipe(Effect.provide(SmtpTestKit.layer()))

export const noop: Layer.Layer<SmtpMetrics> = SmtpMetrics.layerNoop

export const faulty = Effect.gen(function*() {
  const { cert, key } = TestCertificates.testCertificates()
  const server = yield* MisbehavingServer.make({ tls: { key, cert }, faults: { rcpt: TestServer.transient() } })
  return server.port
})

export const inMemory: Layer.Layer<SmtpClient> = SmtpClient.layer({ host: "mail.test", security: "none" }).pipe(
  Layer.provide(SmtpProtocol.layer),
  Layer.provide(TestSocket.layer(TestSocket.smtpServer({ faults: { end: TestServer.serviceClosing() } }).script)),
  Layer.provide(SmtpMetrics.layerNoop)
)
