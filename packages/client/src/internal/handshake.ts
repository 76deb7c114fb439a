import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import {
  AuthenticationError,
  SmtpCommandError,
  type SmtpError,
  SmtpProtocolError,
  TimeoutError,
  TlsError
} from "../SmtpError.js"
import type * as SmtpProtocol from "../SmtpProtocol.js"
import * as Capabilities from "./capabilities.js"
import * as commands from "./commands.js"
import { type Reply, text, tlsRecordDetail } from "./reply.js"
import * as sasl from "./sasl.js"
import type { Wire } from "./wire.js"

/**
 * Opening a session, top to bottom: the greeting, EHLO (HELO for a server
 * without extensions), STARTTLS as the security mode asks and EHLO again;
 * then AUTH, when the client has credentials.
 */

/** What a session knows once it is open. @internal */
export interface Opened {
  readonly greeting: Reply
  readonly capabilities: Capabilities.Capabilities
}

const commandError = (command: string, reply: Reply): SmtpCommandError =>
  new SmtpCommandError({
    command,
    statusCode: reply.code,
    enhancedStatusCode: reply.enhancedCode,
    serverMessage: text(reply)
  })

/** @internal */
export const open = (wire: Wire, options: SmtpProtocol.ConnectOptions, ehloName: string): Effect.Effect<
  Opened,
  SmtpError
> =>
  Effect.gen(function*() {
    const { timeouts } = options
    const greeting = yield* Effect.catch(
      wire.reply({ timeout: timeouts.greeting, operation: "the server greeting" }),
      (error) => Effect.fail(explainSilence(error, options))
    )
    if (greeting.code !== 220) return yield* wire.fail(commandError("greeting", greeting))
    const plaintext = yield* ehlo(wire, options, ehloName)
    const unavailable = new TlsError({
      reason: "StartTlsUnavailable",
      host: options.host,
      port: options.port,
      security: options.security
    })
    switch (options.security) {
      case "starttls":
        if (!plaintext.startTls) return yield* unavailable
        return { greeting, capabilities: yield* startTls(wire, options, ehloName) }
      case "starttls-if-available":
        if (plaintext.startTls) return { greeting, capabilities: yield* startTls(wire, options, ehloName) }
        // Without TLS the credentials would cross the network in the clear.
        if (options.credentialsFollow) return yield* unavailable
        return { greeting, capabilities: plaintext }
      default:
        return { greeting, capabilities: plaintext }
    }
  })

/**
 * A greeting that never came, or came as TLS, most often means a port that
 * speaks TLS from the first byte reached in plaintext: the error names the
 * port and the security mode so the fix (security "tls") is in the message.
 */
const explainSilence = (error: SmtpError, options: SmtpProtocol.ConnectOptions): SmtpError => {
  if (error._tag === "TimeoutError") {
    return new TimeoutError({
      operation: error.operation,
      timeout: error.timeout,
      host: options.host,
      port: options.port,
      security: options.security
    })
  }
  if (error._tag === "SmtpProtocolError" && error.detail === tlsRecordDetail && options.security !== "tls") {
    return new SmtpProtocolError({
      reason: "MalformedReply",
      detail: `${options.host}:${options.port} answered with a TLS record (bytes 0x16 0x03 or 0x15 0x03) ` +
        `where the plaintext greeting belongs ` +
        `(security "${options.security}"): the port speaks TLS from the first byte (implicit TLS, usually 465); ` +
        `set security: "tls"`
    })
  }
  return error
}

/**
 * EHLO, or HELO for a server that does not know it (RFC 5321 §3.2); LHLO
 * for LMTP, which has no fallback (RFC 2033 §4.1).
 */
const ehlo = (wire: Wire, options: SmtpProtocol.ConnectOptions, ehloName: string) =>
  Effect.gen(function*() {
    if (options.protocol === "lmtp") {
      const reply = yield* wire.command(commands.lhlo(ehloName), {
        timeout: options.timeouts.command,
        operation: "LHLO"
      })
      if (reply.code === 250) return Capabilities.fromEhlo(reply)
      return yield* Effect.fail(commandError("LHLO", reply))
    }
    const wait = { timeout: options.timeouts.command, operation: "EHLO" }
    const reply = yield* wire.command(commands.ehlo(ehloName), wait)
    if (reply.code === 250) return Capabilities.fromEhlo(reply)
    if (reply.code === 500 || reply.code === 502 || reply.code === 504 || reply.code === 550) {
      const helo = yield* wire.command(commands.helo(ehloName), { ...wait, operation: "HELO" })
      if (helo.code !== 250) return yield* Effect.fail(commandError("HELO", helo))
      return Capabilities.none
    }
    return yield* Effect.fail(commandError("EHLO", reply))
  })

/** STARTTLS, the handshake, and EHLO again: what was learnt in plaintext is forgotten (RFC 3207 §4.2). */
const startTls = (wire: Wire, options: SmtpProtocol.ConnectOptions, ehloName: string) =>
  Effect.gen(function*() {
    const reply = yield* wire.command(commands.startTls, { timeout: options.timeouts.command, operation: "STARTTLS" })
    if (reply.code !== 220) return yield* wire.fail(commandError("STARTTLS", reply))
    yield* wire.startTls(
      { ...options.tls, servername: options.tls?.servername ?? options.host },
      options.timeouts.connect
    )
    return yield* ehlo(wire, options, ehloName)
  })

/** A hostile server could send 334 forever: the exchange has a bounded number of steps. */
const maxChallenges = 8

/** @internal */
export const authenticate = (
  wire: Wire,
  session: {
    readonly host: string
    readonly port: number
    readonly offered: ReadonlyArray<string>
    readonly timeouts: SmtpProtocol.Timeouts
  },
  credentials: SmtpProtocol.Credentials
): Effect.Effect<void, SmtpError> =>
  Effect.gen(function*() {
    const invalid = sasl.checkCredentials(credentials)
    if (invalid !== undefined) return yield* invalid
    // SCRAM's -PLUS variants bind the proof to the TLS session, where the transport can say what it is.
    const binding = wire.connection.channelBinding
    const channelBinding = binding === undefined ? undefined : yield* binding
    const mechanism = sasl.choose(credentials, session.offered, channelBinding !== undefined)
    if (Result.isFailure(mechanism)) return yield* mechanism.failure
    const started = sasl.start(mechanism.success, credentials, {
      host: session.host,
      port: session.port,
      offered: session.offered,
      channelBinding
    })
    if (Result.isFailure(started)) return yield* started.failure
    const exchange = started.success
    const wait = { timeout: session.timeouts.command, operation: "AUTH" }
    // What follows the verb is secret: the log shows only `AUTH <mechanism>` and `<redacted>`.
    let reply = yield* wire.command(
      commands.auth(exchange.mechanism, exchange.initialResponse),
      wait,
      exchange.initialResponse === undefined ? undefined : `AUTH ${exchange.mechanism}`
    )
    for (let step = 0; reply.code === 334 && step < maxChallenges; step++) {
      const answer = yield* Effect.result(exchange.respond(text(reply)))
      if (Result.isFailure(answer)) {
        // RFC 4954 §4: "*" cancels the exchange; the server answers 501.
        yield* Effect.ignore(wire.command(commands.authCancel, wait))
        return yield* answer.failure
      }
      reply = yield* wire.command(commands.authResponse(answer.success), wait, "")
    }
    if (reply.code !== 235) {
      return yield* new AuthenticationError({
        reason: "Rejected",
        mechanism: exchange.mechanism,
        statusCode: reply.code,
        enhancedStatusCode: reply.enhancedCode,
        serverMessage: text(reply)
      })
    }
    // SCRAM: a 235 from a server that never proved it knows the password is not trusted.
    const unproven = exchange.complete(text(reply))
    if (unproven !== undefined) return yield* unproven
  })
