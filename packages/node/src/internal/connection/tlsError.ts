/**
 * Node's socket and TLS errors as effect-smtp's: the `code` Node puts on an
 * error, and the `TlsError` reason a person acts on.
 */
import { TlsError } from "@effect-smtp/client/SmtpError"
import * as Predicate from "effect/Predicate"
import { certificateCodes, serverInternalErrorCode } from "./certificateCodes.js"
import type { Endpoint } from "./endpoint.js"

/** @internal */
export const codeOf = (error: unknown): string | undefined =>
  Predicate.hasProperty(error, "code") && typeof error.code === "string" ? error.code : undefined

const tlsFailureOf = (code: string | undefined): TlsError["reason"] =>
  code === undefined
    ? "HandshakeFailed"
    : certificateCodes.has(code)
    ? "CertificateRejected"
    : code === serverInternalErrorCode
    ? "ServerInternalError"
    : "HandshakeFailed"

/** @internal */
export const tlsErrorFrom = (target: Endpoint, error: unknown): TlsError => {
  const code = codeOf(error)
  return new TlsError({
    reason: tlsFailureOf(code),
    host: target.host,
    port: target.port,
    code,
    cause: error
  })
}
