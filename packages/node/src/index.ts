/**
 * effect-smtp on Node.js: the transport, and layers that assemble a client.
 *
 * @since 0.1.0
 */

/**
 * The Node transport: `NodeSocket.layer` provides the `Socket` service.
 *
 * @since 0.1.0
 */
export * as NodeSocket from "./NodeSocket.js"

/**
 * @since 0.1.0
 */
export * as NodeSmtp from "./NodeSmtp.js"
