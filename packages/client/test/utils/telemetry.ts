/**
 * What the telemetry property tests generate: every error class with
 * arbitrary fields, outcomes, client facts, and socket-errors.md as the
 * spec writes it.
 */
import { fc } from "@effect-smtp/test-utils/property"
import * as Duration from "effect/Duration"
import * as SmtpError from "../../src/SmtpError.js"
import type { Outcome } from "../../src/SmtpMetrics.js"

// shared/spec/socket-errors.md, copied row by row rather than imported, so the
// test checks the implementation's table against the spec's.
export const socketErrors: ReadonlyArray<readonly [code: string, name: string, value: number]> = [
  ["ECONNREFUSED", "ConnectionRefused", 10061],
  ["ECONNRESET", "ConnectionReset", 10054],
  ["ETIMEDOUT", "TimedOut", 10060],
  ["EHOSTUNREACH", "HostUnreachable", 10065],
  ["EHOSTDOWN", "HostDown", 10064],
  ["ENETUNREACH", "NetworkUnreachable", 10051],
  ["ENETDOWN", "NetworkDown", 10050],
  ["ENETRESET", "NetworkReset", 10052],
  ["ECONNABORTED", "ConnectionAborted", 10053],
  ["EADDRINUSE", "AddressAlreadyInUse", 10048],
  ["EADDRNOTAVAIL", "AddressNotAvailable", 10049],
  ["EAFNOSUPPORT", "AddressFamilyNotSupported", 10047],
  ["EPROTONOSUPPORT", "ProtocolNotSupported", 10043],
  ["ENOTCONN", "NotConnected", 10057],
  ["EISCONN", "IsConnected", 10056],
  ["EPIPE", "Shutdown", 10058],
  ["ESHUTDOWN", "Shutdown", 10058],
  ["EACCES", "AccessDenied", 10013],
  ["EPERM", "AccessDenied", 10013],
  ["EINVAL", "InvalidArgument", 10022],
  ["EMFILE", "TooManyOpenSockets", 10024],
  ["ENFILE", "TooManyOpenSockets", 10024],
  ["EAGAIN", "WouldBlock", 10035],
  ["EWOULDBLOCK", "WouldBlock", 10035],
  ["EINPROGRESS", "InProgress", 10036],
  ["EALREADY", "AlreadyInProgress", 10037],
  ["EMSGSIZE", "MessageSize", 10040],
  ["ENOBUFS", "NoBufferSpaceAvailable", 10055],
  ["EINTR", "Interrupted", 10004],
  ["ECANCELED", "OperationAborted", 995],
  ["ENOTFOUND", "HostNotFound", 11001],
  ["EAI_NONAME", "HostNotFound", 11001],
  ["EAI_AGAIN", "TryAgain", 11002],
  ["EAI_FAIL", "NoRecovery", 11003],
  ["ENODATA", "NoData", 11004],
  ["EAI_NODATA", "NoData", 11004]
]
export const specValue = new Map(socketErrors.map(([code, , value]) => [code, value]))
export const specSocketError = (code: string): number => specValue.get(code) ?? -1

// --- arbitraries: every error class, with arbitrary fields -------------------

export const text = fc.string({ maxLength: 40 })
export const optional = <A>(arb: fc.Arbitrary<A>): fc.Arbitrary<A | undefined> => fc.option(arb, { nil: undefined })
export const host = fc.domain()
export const port = fc.integer({ min: 1, max: 65_535 })
export const ip = fc.oneof(fc.ipV4(), fc.ipV6())
export const replyCode = fc.integer({ min: 200, max: 599 })
// Known codes, codes the table does not know (the "-1" row), and odd strings.
export const osCode = fc.oneof(
  fc.constantFrom(...socketErrors.map(([code]) => code)),
  fc.constantFrom("EPROTO", "ERR_SOCKET_CLOSED", "EUNKNOWN", "ESOMETHING"),
  fc.stringMatching(/^E[A-Z_]{1,12}$/)
)

export const socketError = fc.record({
  operation: fc.constantFrom<SmtpError.SocketOperation>("lookup", "connect", "read", "write", "closed"),
  host,
  port,
  address: optional(ip),
  code: optional(osCode)
}).map((fields) => new SmtpError.SocketError(fields))

export const proxyError = fc.record({
  reason: fc.constantFrom<SmtpError.ProxyFailure>(
    "Unreachable",
    "AuthenticationFailed",
    "Refused",
    "TargetUnreachable",
    "HandshakeFailed",
    "Timeout"
  ),
  protocol: fc.constantFrom<SmtpError.ProxyError["protocol"]>("socks5", "socks5h", "http"),
  proxy: fc.tuple(host, port).map(([h, p]) => `${h}:${p}`),
  host,
  port,
  code: optional(osCode),
  // A SOCKS5 reply byte or an HTTP status: never smtp.status_code.
  reply: optional(fc.oneof(fc.integer({ min: 1, max: 8 }), replyCode))
}).map((fields) => new SmtpError.ProxyError(fields))

export const tlsError = fc.record({
  reason: fc.constantFrom<SmtpError.TlsFailure>(
    "HandshakeFailed",
    "CertificateRejected",
    "StartTlsUnavailable",
    "ServerInternalError",
    "RequireTlsWithoutTls",
    "RequireTlsNotOffered"
  ),
  host,
  port,
  // TLS library codes, some shaped like OS codes: still never socket.error.
  code: optional(fc.oneof(fc.constantFrom("DEPTH_ZERO_SELF_SIGNED_CERT", "ECONNRESET"), text))
}).map((fields) => new SmtpError.TlsError(fields))

export const commandError = fc.record({
  command: fc.constantFrom("MAIL FROM", "RCPT TO", "DATA", "BDAT", "EHLO", "STARTTLS", "QUIT"),
  statusCode: replyCode,
  enhancedStatusCode: optional(fc.constantFrom("5.1.1", "4.2.0", "5.7.1")),
  serverMessage: text,
  recipient: optional(fc.emailAddress())
}).map((fields) => new SmtpError.SmtpCommandError(fields))

export const protocolError = fc.record({
  reason: fc.constantFrom<SmtpError.SmtpProtocolError["reason"]>(
    "MalformedReply",
    "ReplyTooLong",
    "UnexpectedReply",
    "StartTlsInjection"
  ),
  detail: text
}).map((fields) => new SmtpError.SmtpProtocolError(fields))

export const authenticationError = fc.record({
  reason: fc.constantFrom<SmtpError.AuthenticationError["reason"]>(
    "Rejected",
    "NoCommonMechanism",
    "NotOffered",
    "ServerUnverified",
    "MechanismFailed"
  ),
  mechanism: optional(fc.constantFrom("PLAIN", "LOGIN", "XOAUTH2")),
  statusCode: optional(replyCode),
  serverMessage: optional(text)
}).map((fields) => new SmtpError.AuthenticationError(fields))

export const timeoutError = fc.record({
  operation: fc.constantFrom("connect", "greeting", "EHLO", "DATA"),
  timeout: fc.integer({ min: 0, max: 600_000 }).map(Duration.millis)
}).map((fields) => new SmtpError.TimeoutError(fields))

export const invalidInputError = fc.record({ field: fc.constantFrom("from", "to", "ehloName"), reason: text })
  .map((fields) => new SmtpError.InvalidInputError(fields))

/** A send whose end was written, then the transport failed or timed out: MailKit has no such error. */
export const deliveryUnknownError = fc.record({
  cause: fc.oneof(socketError, timeoutError, protocolError),
  recipients: fc.array(fc.emailAddress(), { maxLength: 3 })
}).map((fields) => new SmtpError.DeliveryUnknownError(fields))

export const anyError: fc.Arbitrary<SmtpError.SmtpError> = fc.oneof(
  socketError,
  proxyError,
  tlsError,
  commandError,
  protocolError,
  authenticationError,
  timeoutError,
  invalidInputError,
  deliveryUnknownError
)

export const outcome: fc.Arbitrary<Outcome> = fc.oneof(
  fc.constant<Outcome>({ _tag: "Success" }),
  fc.constant<Outcome>({ _tag: "Interrupted" }),
  anyError.map((error): Outcome => ({ _tag: "Failure", error })),
  // Weight failures up: they carry the interesting rules.
  anyError.map((error): Outcome => ({ _tag: "Failure", error }))
)

export const clientFacts = fc.record({
  serverAddress: host,
  serverPort: port,
  peerAddress: fc.oneof(ip, fc.constant(undefined), fc.constant("")),
  scheme: fc.constantFrom<"smtp" | "smtps">("smtp", "smtps")
})
