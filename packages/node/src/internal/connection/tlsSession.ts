/**
 * What an established TLS session tells the protocol: its channel binding
 * for SCRAM -PLUS, and Node's verdict on the peer's certificate.
 */
import type { ChannelBinding, PeerVerification } from "@effect-smtp/client/Socket"
import type * as Tls from "node:tls"

/**
 * RFC 9266's tls-exporter binding, under TLS 1.3 only: for TLS 1.2 it is
 * safe only with the extended master secret, which Node does not report,
 * and tls-server-end-point would need the certificate's signature hash,
 * which Node does not expose. Without one, SCRAM runs without -PLUS.
 *
 * @internal
 */
export const channelBindingOf = (socket: Tls.TLSSocket): ChannelBinding | undefined => {
  if (socket.getProtocol() !== "TLSv1.3") {
    return undefined
  }
  // TLS 1.3 does not tell an empty context from none (RFC 8446 §7.5).
  const data = socket.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0))
  return { type: "tls-exporter", data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }
}

/**
 * Node's own verdict on the peer: `authorized` is false, with the reason in
 * `authorizationError`, when the chain or the name did not verify and
 * `rejectUnauthorized: false` let the handshake finish anyway.
 *
 * @internal
 */
export const peerVerificationOf = (socket: Tls.TLSSocket): PeerVerification => {
  if (socket.authorized) return { verified: true }
  const error: unknown = socket.authorizationError
  return {
    verified: false,
    reason: error instanceof Error
      ? (error as Error & { code?: string }).code ?? error.message
      : typeof error === "string"
      ? error
      : "the certificate was not verified"
  }
}
