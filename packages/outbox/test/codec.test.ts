import { SmtpError } from "@effect-smtp/client"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as FastCheck from "effect/FastCheck"
import { OutboxError } from "../src/index.js"
import * as codec from "../src/internal/codec.js"

const text = FastCheck.string({ maxLength: 30 })
const optional = <A>(arbitrary: FastCheck.Arbitrary<A>) => FastCheck.option(arbitrary, { nil: undefined })
const code = FastCheck.integer({ min: 200, max: 599 })
const enhanced = optional(FastCheck.constantFrom("4.3.0", "5.1.1", "2.0.0"))
const rejection = FastCheck.record({ recipient: text, statusCode: code, enhancedStatusCode: enhanced, message: text })

const socketError = FastCheck.record({
  operation: FastCheck.constantFrom<SmtpError.SocketOperation>("lookup", "connect", "read", "write", "closed"),
  host: text,
  port: FastCheck.integer({ min: 1, max: 65535 }),
  address: optional(text),
  code: optional(FastCheck.constantFrom("ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EPIPE"))
}).map((fields) => new SmtpError.SocketError(fields))
const timeoutError = FastCheck.record({ operation: text, millis: FastCheck.nat(10_000_000) })
  .map(({ millis, operation }) => new SmtpError.TimeoutError({ operation, timeout: Duration.millis(millis) }))
const protocolError = FastCheck.record({
  reason: FastCheck.constantFrom<SmtpError.SmtpProtocolError["reason"]>(
    "MalformedReply",
    "ReplyTooLong",
    "UnexpectedReply",
    "StartTlsInjection"
  ),
  detail: text
}).map((fields) => new SmtpError.SmtpProtocolError(fields))

const storedError: FastCheck.Arbitrary<codec.StoredError> = FastCheck.oneof(
  socketError,
  timeoutError,
  protocolError,
  FastCheck.record({
    reason: FastCheck.constantFrom<SmtpError.TlsFailure>(
      "HandshakeFailed",
      "CertificateRejected",
      "StartTlsUnavailable"
    ),
    host: text,
    port: FastCheck.integer({ min: 1, max: 65535 }),
    code: optional(text)
  }).map((fields) => new SmtpError.TlsError(fields)),
  FastCheck.record({
    command: FastCheck.constantFrom("MAIL FROM", "RCPT TO", "DATA", "BDAT"),
    statusCode: code,
    enhancedStatusCode: enhanced,
    serverMessage: text,
    recipient: optional(text),
    rejectedRecipients: optional(FastCheck.array(rejection, { maxLength: 3 }))
  }).map((fields) => new SmtpError.SmtpCommandError(fields)),
  FastCheck.record({
    reason: FastCheck.constantFrom<SmtpError.AuthenticationError["reason"]>(
      "Rejected",
      "NoCommonMechanism",
      "NotOffered",
      "TokenUnavailable"
    ),
    mechanism: optional(text),
    statusCode: optional(code),
    enhancedStatusCode: enhanced,
    serverMessage: optional(text),
    offered: optional(FastCheck.array(text, { maxLength: 3 }))
  }).map((fields) => new SmtpError.AuthenticationError(fields)),
  FastCheck.record({ field: text, reason: text }).map((fields) => new SmtpError.InvalidInputError(fields)),
  FastCheck.record({
    cause: FastCheck.oneof(socketError, timeoutError, protocolError),
    messageId: optional(text),
    recipients: FastCheck.array(text, { maxLength: 3 })
  }).map((fields) => new SmtpError.DeliveryUnknownError(fields)),
  FastCheck.record({
    attempt: FastCheck.integer({ min: 1, max: 50 }),
    messageId: optional(text),
    recipients: FastCheck.array(text, { maxLength: 3 })
  })
    .map((fields) => new OutboxError.AttemptCutError(fields))
)

describe("stored outcomes", () => {
  it.prop(
    "an error read back is of the same class, with the same message and the same retryable",
    [storedError],
    ([error]) => {
      const read = codec.decodeErrorText(codec.encodeError(error))
      expect(read.constructor).toBe(error.constructor)
      expect(read._tag).toBe(error._tag)
      expect(read.message).toBe(error.message)
      expect(read.retryable).toBe(error.retryable)
      const failure = codec.decodeFailureText(codec.encodeFailure("RetriesExhausted", error))
      expect(failure.reason).toBe("RetriesExhausted")
      expect(failure.error.message).toBe(error.message)
    }
  )

  it("text that is not a stored error is refused, not guessed at", () => {
    expect(() => codec.decodeErrorText(JSON.stringify({ _tag: "SocketError", host: 1 }))).toThrow()
    expect(() => codec.decodeResultText("{}")).toThrow()
  })
})
