/**
 * The transport under SMTP: DNS, TCP, implicit TLS, the STARTTLS upgrade,
 * reads and writes. The client package holds only the interface; the Node
 * implementation is `NodeSocket.layer` in `@effect-smtp/node`, and the test kit
 * has an in-memory one.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type {
  InvalidInputError,
  ProxyError,
  SmtpProtocolError,
  SocketError,
  TimeoutError,
  TlsError
} from "./SmtpError.js"

/**
 * TLS settings, for implicit TLS and for STARTTLS.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsOptions {
  /** Verify the server certificate (default `true`). */
  readonly rejectUnauthorized?: boolean | undefined
  /** Trusted CA certificates (PEM), instead of the system store. */
  readonly ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array> | undefined
  /** The name to verify and to send as SNI (default: the host). */
  readonly servername?: string | undefined
  /** The lowest protocol version accepted (default `TLSv1.2`). */
  readonly minVersion?: "TLSv1.2" | "TLSv1.3" | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  readonly host: string
  readonly port: number
  /** Present: implicit TLS from the first byte (SMTPS). */
  readonly tls?: TlsOptions | undefined
  /** How long one connect attempt (one resolved address) may take. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * How long a write may wait for the send buffer to drain, and what it was for
 * (named in the `TimeoutError`).
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteTimeout {
  readonly duration: Duration.Duration
  readonly operation: string
}

/**
 * Channel binding data of a TLS connection (RFC 5056), for SASL mechanisms
 * that bind the authentication to it (SCRAM's -PLUS variants): `type` is the
 * binding's name, e.g. `tls-exporter` (RFC 9266).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChannelBinding {
  readonly type: "tls-exporter" | "tls-server-end-point" | "tls-unique"
  readonly data: Uint8Array
}

/**
 * Whether the TLS peer's certificate was verified: its chain against the
 * trusted CAs and its name against the host (or `servername`), as Node's
 * `TLSSocket.authorized` and `authorizationError` tell. REQUIRETLS (RFC 8689
 * §4.2.1) is honoured only over a verified connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface PeerVerification {
  readonly verified: boolean
  /** Why it was not, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT` or `ERR_TLS_CERT_ALTNAME_INVALID`. */
  readonly reason?: string | undefined
}

/**
 * An open connection. Reads are pulled, so a slow consumer applies
 * backpressure to the peer; writes complete when the data is handed to the OS
 * (after a drain when the buffer is full), so a large body never sits in memory.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  /** The host name the user asked for. */
  readonly host: string
  readonly port: number
  /** The IP actually connected to (no port), e.g. `127.0.0.1` or `::1`. */
  readonly remoteAddress: string
  readonly remotePort: number
  /** Whether the bytes now travel over TLS (implicit or after STARTTLS). */
  readonly isTls: Effect.Effect<boolean>
  /**
   * The next chunk from the peer. Fails with a `SocketError` whose operation
   * is "closed" when the peer closed the connection.
   */
  readonly read: Effect.Effect<Uint8Array, SocketError>
  /**
   * A chunk that has already arrived, or `undefined`, without waiting. Lets
   * a reader skip the cost of a timed wait when the data is at hand.
   */
  readonly poll?: (() => Uint8Array | undefined) | undefined
  /**
   * Calls `resume` once with the next chunk (or the read's failure); returns a
   * function that cancels the wait. `read` without a fiber, so a reader can
   * time it with a timer of its own instead of a race.
   */
  readonly awaitRead?:
    | ((resume: (result: Effect.Effect<Uint8Array, SocketError>) => void) => () => void)
    | undefined
  /**
   * Hands `data` to the transport. It completes at once unless the send
   * buffer is full; a wait for it to drain that outlasts `timeout` fails with
   * a `TimeoutError`.
   */
  readonly write: (
    data: Uint8Array,
    timeout?: WriteTimeout | undefined
  ) => Effect.Effect<void, SocketError | TimeoutError>
  /**
   * Starts TLS on this connection (STARTTLS). Fails with a
   * `SmtpProtocolError` ("StartTlsInjection") when plaintext bytes arrived
   * that nobody read: they would otherwise be taken as post-TLS replies.
   */
  readonly upgradeTls: (options: TlsOptions) => Effect.Effect<void, TlsError | SocketError | SmtpProtocolError>
  /** Ends the connection gracefully; closing the scope destroys it. */
  readonly close: Effect.Effect<void>
  /**
   * The channel binding of the TLS session now in use, or `undefined` when
   * there is none this transport can vouch for (no TLS, or a TLS version
   * whose binding it cannot compute). Absent: the transport never offers one.
   */
  readonly channelBinding?: Effect.Effect<ChannelBinding | undefined> | undefined
  /**
   * Whether the TLS peer's certificate was verified; `undefined` without TLS.
   * Absent: the transport cannot tell, and a connection it carries counts as
   * unverified (a message with REQUIRETLS is then refused).
   */
  readonly peerVerification?: Effect.Effect<PeerVerification | undefined> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SocketService {
  /**
   * Resolves every address of `host` and tries each in order until one
   * connects; the connection lives as long as the scope. A transport that
   * goes through a proxy fails with a `ProxyError` when the proxy does not
   * open the tunnel, and with an `InvalidInputError` (field "proxy") when its
   * configuration is unusable.
   */
  readonly connect: (
    options: ConnectOptions
  ) => Effect.Effect<
    Connection,
    SocketError | ProxyError | TlsError | TimeoutError | InvalidInputError,
    Scope.Scope
  >
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Socket extends Context.Service<Socket, SocketService>()("@effect-smtp/client/Socket") {}
