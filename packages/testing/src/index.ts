/**
 * effect-smtp's test tooling, platform-free: the test server engine with its
 * faults, an in-memory `Socket` that runs it (or any script), and an
 * in-memory `SmtpClient` for an application's tests. The Node parts (the
 * engine over TCP, certificates) are in `@effect-smtp/testing/node`.
 *
 * @since 0.1.0
 */

/**
 * The test server engine: its options, faults and records.
 *
 * @since 0.1.0
 */
export * as TestServer from "./TestServer.js"

/**
 * The in-memory Socket with a scripted server, for tests without a network.
 *
 * @since 0.1.0
 */
export * as TestSocket from "./TestSocket.js"

/**
 * An in-memory `SmtpClient` and `SentMail` for an application's own tests.
 *
 * @since 0.1.0
 */
export * as SmtpTestKit from "./SmtpTestKit.js"
