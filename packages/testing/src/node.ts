/**
 * effect-smtp's test tooling on Node.js: the test server engine over TCP on
 * loopback, and TLS certificates made at test time.
 *
 * @since 0.1.0
 */

/**
 * The test server engine on a real TCP port, faults included.
 *
 * @since 0.1.0
 */
export * as MisbehavingServer from "./MisbehavingServer.js"

/**
 * A CA and a `localhost` certificate it signed, made at test time.
 *
 * @since 0.1.0
 */
export * as TestCertificates from "./TestCertificates.js"
