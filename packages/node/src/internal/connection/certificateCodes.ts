/**
 * The error codes that say the certificate was seen and refused, which a
 * person fixes differently from a handshake that failed.
 */

/**
 * OpenSSL's certificate verification results (as Node reports them in
 * `err.code`) and Node's own name check.
 *
 * @internal
 */
export const certificateCodes: ReadonlySet<string> = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "CERT_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "CERT_CHAIN_TOO_LONG",
  "CERT_REVOKED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  // OpenSSL 3 refuses weak certificates during the handshake, with SSL codes.
  "ERR_SSL_EE_KEY_TOO_SMALL",
  "ERR_SSL_CA_KEY_TOO_SMALL",
  "ERR_SSL_CA_MD_TOO_WEAK"
])

/**
 * The server sent a fatal internal-error alert (TLS alert 80): it failed on
 * its own side during the handshake, e.g. could not sign with its key. The
 * port speaks TLS, so "check the security mode" would send a person the
 * wrong way.
 *
 * @internal
 */
export const serverInternalErrorCode = "ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR"
