import { SmtpError } from "@effect-smtp/client"
import { fc, prop } from "@effect-smtp/test-utils/property"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import { OutboxError } from "../src/index.js"
import * as codec from "../src/internal/codec.js"
import { storedErrors } from "./fixtures/storedErrors.js"

const text = fc.string({ maxLength: 30 })
const optional = <A>(arbitrary: fc.Arbitrary<A>) => fc.option(arbitrary, { nil: undefined })
const code = fc.integer({ min: 200, max: 599 })
const enhanced = optional(fc.constantFrom("4.3.0", "5.1.1", "2.0.0"))
const rejection = fc.record({ recipient: text, statusCode: code, enhancedStatusCode: enhanced, message: text })

const socketError = fc.record({
  operation: fc.constantFrom<SmtpError.SocketOperation>("lookup", "connect", "read", "write", "closed"),
  host: text,
  port: fc.integer({ min: 1, max: 65535 }),
  address: optional(text),
  proxy: optional(text),
  code: optional(fc.constantFrom("ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EPIPE"))
}).map((fields) => new SmtpError.SocketError(fields))
const security = fc.constantFrom<NonNullable<SmtpError.TimeoutError["security"]>>(
  "tls",
  "starttls",
  "starttls-if-available",
  "none"
)
const timeoutError = fc.record({
  operation: text,
  millis: fc.nat(10_000_000),
  // A greeting's timeout names where it waited and in which mode.
  host: optional(text),
  port: optional(fc.integer({ min: 1, max: 65535 })),
  security: optional(security)
})
  .map(({ millis, ...fields }) => new SmtpError.TimeoutError({ ...fields, timeout: Duration.millis(millis) }))
const protocolError = fc.record({
  reason: fc.constantFrom<SmtpError.SmtpProtocolError["reason"]>(
    "MalformedReply",
    "ReplyTooLong",
    "UnexpectedReply",
    "StartTlsInjection"
  ),
  detail: text
}).map((fields) => new SmtpError.SmtpProtocolError(fields))

const storedError: fc.Arbitrary<codec.StoredError> = fc.oneof(
  socketError,
  timeoutError,
  protocolError,
  fc.record({
    reason: fc.constantFrom<SmtpError.TlsFailure>(
      "HandshakeFailed",
      "CertificateRejected",
      "StartTlsUnavailable"
    ),
    host: text,
    port: fc.integer({ min: 1, max: 65535 }),
    security: optional(security),
    code: optional(text)
  }).map((fields) => new SmtpError.TlsError(fields)),
  fc.record({
    command: fc.constantFrom("MAIL FROM", "RCPT TO", "DATA", "BDAT"),
    statusCode: code,
    enhancedStatusCode: enhanced,
    serverMessage: text,
    recipient: optional(text),
    rejectedRecipients: optional(fc.array(rejection, { maxLength: 3 })),
    acceptedRecipients: optional(fc.array(text, { maxLength: 3 }))
  }).map((fields) => new SmtpError.SmtpCommandError(fields)),
  fc.record({
    reason: fc.constantFrom<SmtpError.AuthenticationError["reason"]>(
      "Rejected",
      "NoCommonMechanism",
      "NotOffered",
      "TokenUnavailable"
    ),
    mechanism: optional(text),
    statusCode: optional(code),
    enhancedStatusCode: enhanced,
    serverMessage: optional(text),
    offered: optional(fc.array(text, { maxLength: 3 }))
  }).map((fields) => new SmtpError.AuthenticationError(fields)),
  fc.record({
    reason: fc.constantFrom<SmtpError.ProxyError["reason"]>(
      "Unreachable",
      "AuthenticationFailed",
      "Refused",
      "TargetUnreachable",
      "HandshakeFailed",
      "Timeout"
    ),
    protocol: fc.constantFrom<SmtpError.ProxyError["protocol"]>("socks5", "socks5h", "http"),
    proxy: text,
    host: text,
    port: fc.integer({ min: 1, max: 65535 }),
    code: optional(text),
    reply: optional(fc.integer({ min: 0, max: 255 })),
    detail: optional(text),
    millis: optional(fc.nat(10_000_000))
  }).map(({ millis, ...fields }) =>
    new SmtpError.ProxyError({ ...fields, timeout: millis === undefined ? undefined : Duration.millis(millis) })
  ),
  fc.record({ field: text, reason: text, foundWhileStreaming: optional(fc.boolean()) }).map((fields) =>
    new SmtpError.InvalidInputError(fields)
  ),
  fc.record({
    cause: fc.oneof(socketError, timeoutError, protocolError),
    messageId: optional(text),
    recipients: fc.array(text, { maxLength: 3 })
  }).map((fields) => new SmtpError.DeliveryUnknownError(fields)),
  fc.record({
    attempt: fc.integer({ min: 1, max: 50 }),
    messageId: optional(text),
    recipients: fc.array(text, { maxLength: 3 })
  })
    .map((fields) => new OutboxError.AttemptCutError(fields))
)

describe("stored outcomes", () => {
  prop(
    "an error read back is of the same class, with the same message, the same retryable and the same stored text",
    [storedError],
    ([error]) => {
      const read = codec.decodeErrorText(codec.encodeError(error))
      expect(read.constructor).toBe(error.constructor)
      expect(read._tag).toBe(error._tag)
      expect(read.message).toBe(error.message)
      expect(read.retryable).toBe(error.retryable)
      // Read back and stored again, an error is the same text: nothing drifts across attempts.
      expect(codec.encodeError(read)).toBe(codec.encodeError(error))
      const failure = codec.decodeFailureText(codec.encodeFailure("RetriesExhausted", error))
      expect(failure.reason).toBe("RetriesExhausted")
      expect(failure.error.message).toBe(error.message)
    }
  )

  it("text that is not a stored error is refused, not guessed at", () => {
    expect(() => codec.decodeErrorText(JSON.stringify({ _tag: "SocketError", host: 1 }))).toThrow()
    expect(() => codec.decodeResultText("{}")).toThrow()
  })

  // Rows written by the codec before issue 21 (one or two of every stored
  // error class, with and without their optional fields and an OS cause):
  // they still decode to the same class and message, and the codec writes
  // the same bytes for the same error.
  it("rows stored before still read back, and the same error is stored as the same text", () => {
    expect(storedErrors.length).toBeGreaterThanOrEqual(20)
    for (const row of storedErrors) {
      const read = codec.decodeErrorText(row.error)
      expect(read.message).toBe(row.message)
      expect(read.retryable).toBe(row.retryable)
      expect(codec.encodeError(read)).toBe(row.error)
      const failure = codec.decodeFailureText(row.failure)
      expect(failure.reason).toBe("Permanent")
      expect(failure.error.message).toBe(row.message)
      expect(codec.encodeFailure("Permanent", failure.error)).toBe(row.failure)
    }
  })
})
