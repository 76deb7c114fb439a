import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import {
  AuthenticationError,
  DeliveryUnknownError,
  InvalidInputError,
  isSmtpError,
  type RecipientRejection,
  SmtpCommandError,
  type SmtpError,
  SmtpProtocolError,
  TimeoutError,
  TlsError
} from "../SmtpError.js"
import type * as SmtpProtocol from "../SmtpProtocol.js"
import type { Connection, Socket } from "../Socket.js"
import * as Capabilities from "./capabilities.js"
import * as commands from "./commands.js"
import * as dataEncoder from "./dataEncoder.js"
import * as protocolLog from "./protocolLog.js"
import * as readTimer from "./readTimer.js"
import { type Reply, ReplyParser, text } from "./reply.js"
import * as sasl from "./sasl.js"

const encoder = new TextEncoder()

/** Saying goodbye never holds a close longer than this. */
const quitTimeoutCap = Duration.seconds(10)
const ascii = (line: string): Uint8Array => encoder.encode(line)

/** Errors after which the connection cannot be trusted to be in step. */
const breaksSession = (error: SmtpError): boolean =>
  error._tag === "SocketError" || error._tag === "SmtpProtocolError" || error._tag === "TimeoutError" ||
  error._tag === "TlsError" || (error._tag === "SmtpCommandError" && error.statusCode === 421)

const commandError = (command: string, reply: Reply, recipient?: string): SmtpCommandError =>
  new SmtpCommandError({
    command,
    statusCode: reply.code,
    enhancedStatusCode: reply.enhancedCode,
    serverMessage: text(reply),
    recipient
  })

const rejection = (recipient: string, reply: Reply): RecipientRejection => ({
  recipient,
  statusCode: reply.code,
  enhancedStatusCode: reply.enhancedCode,
  message: text(reply)
})

const isEightBit = (content: string | Uint8Array): boolean => {
  if (typeof content === "string") return !commands.isAscii(content)
  for (let i = 0; i < content.length; i++) if (content[i] > 0x7f) return true
  return false
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

/** @internal */
export const makeProtocol = (socketTag: typeof Socket) =>
  Effect.map(socketTag, (socket): SmtpProtocol.SmtpProtocolService => ({
    connect: (options) =>
      Effect.gen(function*() {
        const ehloName = options.ehloName ?? "[127.0.0.1]"
        const invalid = commands.checkEhloName(ehloName)
        if (invalid !== undefined) return yield* invalid
        const connection = yield* socket.connect({
          host: options.host,
          port: options.port,
          tls: options.security === "tls" ? tlsFor(options) : undefined,
          timeout: options.timeouts.connect
        })
        options.onTransport?.(connection.remoteAddress)
        return yield* open(connection, options, ehloName)
      })
  }))

const tlsFor = (options: SmtpProtocol.ConnectOptions) => ({ ...options.tls, servername: options.tls?.servername })

const open = (connection: Connection, options: SmtpProtocol.ConnectOptions, ehloName: string) =>
  Effect.gen(function*() {
    const timeouts = options.timeouts
    let parser = new ReplyParser()
    let capabilities = Capabilities.none
    let broken: SmtpError | undefined = undefined

    /** Marks the session broken when an error leaves it out of step. */
    const guard = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.tapError(effect, (error) =>
        Effect.sync(() => {
          if (broken === undefined && isSmtpFailure(error) && breaksSession(error)) broken = error
        }))

    const poll = connection.poll
    const awaitRead = connection.awaitRead

    // Timed by a per-session watchdog where the transport allows it (see readTimer).
    const timer = awaitRead === undefined ? undefined : yield* readTimer.make(Object.values(timeouts))

    const readReply = (timeout: Duration.Duration, operation: string): Effect.Effect<Reply, SmtpError> => {
      const ready = parser.take()
      if (ready !== undefined) return Effect.succeed(ready)
      // Data that already arrived needs no timed wait.
      if (poll !== undefined) {
        for (let chunk = poll(); chunk !== undefined; chunk = poll()) {
          const error = parser.push(chunk)
          if (error !== undefined) return guard(Effect.fail(error))
          const reply = parser.take()
          if (reply !== undefined) return Effect.succeed(reply)
        }
      }
      const at = timer === undefined ? 0 : timer.now() + Duration.toMillis(timeout)
      if (timer !== undefined && awaitRead !== undefined && timer.covers(at)) {
        const timed: Effect.Effect<Reply, SmtpError> = Effect.flatMap(
          timer.readBy(at, timeout, operation, awaitRead),
          (chunk) => {
            const error = parser.push(chunk)
            if (error !== undefined) return Effect.fail(error)
            const reply = parser.take()
            return reply !== undefined ? Effect.succeed(reply) : timed
          }
        )
        return guard(timed)
      }
      const loop: Effect.Effect<Reply, SmtpError> = Effect.flatMap(connection.read, (chunk) => {
        const error = parser.push(chunk)
        if (error !== undefined) return Effect.fail(error)
        const reply = parser.take()
        return reply !== undefined ? Effect.succeed(reply) : loop
      })
      return guard(Effect.timeoutFail(loop, {
        duration: timeout,
        onTimeout: () => new TimeoutError({ operation, timeout })
      }))
    }

    const log = protocolLog.make(options.protocolLog)
    const logged = log === undefined
      ? readReply
      : (timeout: Duration.Duration, operation: string) => Effect.tap(readReply(timeout, operation), log.server)

    const reply = (timeout: Duration.Duration, operation: string) =>
      Effect.flatMap(logged(timeout, operation), (r) =>
        r.code === 421
          // 421: the server is closing the channel; whatever we asked, we are done.
          ? guard(Effect.fail(commandError(operation, r)))
          : Effect.succeed(r))

    // The connection times a write only when it has to wait for the buffer to drain.
    const write = (bytes: Uint8Array, timeout: Duration.Duration, operation: string) =>
      guard(connection.write(bytes, { duration: timeout, operation }))

    /** Writes command lines; `secret` keeps all but the verb out of the protocol log. */
    const sendLines = (lines: string, timeout: Duration.Duration, operation: string, secret?: string) =>
      log === undefined
        ? write(ascii(lines), timeout, operation)
        : Effect.zipRight(
          secret === undefined ? log.client(lines) : log.clientSecret(secret),
          write(ascii(lines), timeout, operation)
        )

    const command = (line: string, timeout: Duration.Duration, operation: string, secret?: string) =>
      Effect.zipRight(sendLines(line, timeout, operation, secret), reply(timeout, operation))

    const expect = (r: Reply, command: string, ...codes: ReadonlyArray<number>) =>
      codes.includes(r.code) ? Effect.succeed(r) : Effect.fail(commandError(command, r))

    const ehlo = Effect.gen(function*() {
      const r = yield* command(`EHLO ${ehloName}\r\n`, timeouts.command, "EHLO")
      if (r.code === 250) {
        capabilities = Capabilities.fromEhlo(r)
        return
      }
      // A server that does not know EHLO (RFC 5321 §3.2) still speaks HELO.
      if (r.code === 500 || r.code === 502 || r.code === 504 || r.code === 550) {
        const helo = yield* command(`HELO ${ehloName}\r\n`, timeouts.command, "HELO")
        yield* expect(helo, "HELO", 250)
        capabilities = Capabilities.none
        return
      }
      return yield* Effect.fail(commandError("EHLO", r))
    })

    const startTls = Effect.gen(function*() {
      const r = yield* command("STARTTLS\r\n", timeouts.command, "STARTTLS")
      yield* guard(expect(r, "STARTTLS", 220))
      if (parser.hasBuffered) {
        return yield* guard(Effect.fail(
          new SmtpProtocolError({
            reason: "StartTlsInjection",
            detail: "Bytes followed the 220 reply to STARTTLS in the same read."
          })
        ))
      }
      yield* guard(Effect.timeoutFail(
        connection.upgradeTls({ ...options.tls, servername: options.tls?.servername ?? options.host }),
        {
          duration: timeouts.connect,
          onTimeout: () =>
            new TimeoutError({ operation: "the TLS handshake after STARTTLS", timeout: timeouts.connect })
        }
      ))
      // RFC 3207 §4.2: forget everything learned in plaintext.
      parser = new ReplyParser()
      capabilities = Capabilities.none
      yield* ehlo
    })

    const greeting = yield* reply(timeouts.greeting, "the server greeting")
    if (greeting.code !== 220) return yield* guard(Effect.fail(commandError("greeting", greeting)))
    yield* ehlo

    switch (options.security) {
      case "starttls":
        if (!capabilities.startTls) {
          return yield* new TlsError({ reason: "StartTlsUnavailable", host: options.host, port: options.port })
        }
        yield* startTls
        break
      case "starttls-if-available":
        if (capabilities.startTls) yield* startTls
        else if (options.credentialsFollow) {
          // Without TLS the credentials would cross the network in the clear.
          return yield* new TlsError({ reason: "StartTlsUnavailable", host: options.host, port: options.port })
        }
        break
      default:
        break
    }

    const authenticate = (credentials: sasl.Credentials) =>
      Effect.gen(function*() {
        const invalid = sasl.checkCredentials(credentials)
        if (invalid !== undefined) return yield* invalid
        const mechanism = sasl.choose(credentials, capabilities.auth)
        if (Either.isLeft(mechanism)) return yield* mechanism.left
        const exchange = sasl.start(mechanism.right, credentials, { host: options.host, port: options.port })
        const first = exchange.initialResponse === undefined
          ? `AUTH ${exchange.mechanism}\r\n`
          : `AUTH ${exchange.mechanism} ${exchange.initialResponse}\r\n`
        let r = yield* command(
          first,
          timeouts.command,
          "AUTH",
          exchange.initialResponse === undefined ? undefined : `AUTH ${exchange.mechanism}`
        )
        // A bounded number of challenges: a hostile server could send 334 forever.
        for (let step = 0; r.code === 334 && step < 8; step++) {
          r = yield* command(`${exchange.respond(text(r))}\r\n`, timeouts.command, "AUTH", "")
        }
        if (r.code !== 235) {
          return yield* new AuthenticationError({
            reason: "Rejected",
            mechanism: exchange.mechanism,
            statusCode: r.code,
            enhancedStatusCode: r.enhancedCode,
            serverMessage: text(r)
          })
        }
      })

    const rset = Effect.flatMap(command("RSET\r\n", timeouts.command, "RSET"), (r) => expect(r, "RSET", 250))

    /** Ends a failed transaction so the session can carry the next one. */
    const recover = <E>(error: E): Effect.Effect<never, E> =>
      Effect.zipRight(
        broken === undefined ? Effect.ignore(rset) : Effect.void,
        Effect.fail(error)
      )

    const checkEnvelope = <E>(envelope: SmtpProtocol.Envelope<E>): InvalidInputError | undefined => {
      const invalid = commands.checkEnvelope(envelope)
      if (invalid !== undefined) return invalid
      const international = [envelope.from, ...envelope.to].find((a) => !commands.isAscii(a))
      if (international !== undefined && !capabilities.smtpUtf8) {
        return new InvalidInputError({
          field: international === envelope.from ? "from" : "to",
          reason: `${
            JSON.stringify(international)
          } is not ASCII and the server does not offer SMTPUTF8: use the ASCII (punycode) form of the domain, or a server with SMTPUTF8`
        })
      }
      return undefined
    }

    /** Everything about a message that needs no round trip: checks and command lines. */
    interface Prepared<E> {
      readonly envelope: SmtpProtocol.Envelope<E>
      readonly known: Uint8Array | Stream.Stream<Uint8Array, E>
      readonly mail: string
      readonly rcpts: ReadonlyArray<string>
      readonly useBdat: boolean
      /**
       * DATA goes in the pipelined group unless BDAT follows, or the message
       * is to be abandoned when any recipient is refused: a 354 would then
       * force an empty message on the accepted ones.
       */
      readonly dataInGroup: boolean
      /** The pipelined group: MAIL, every RCPT, and DATA when `dataInGroup`. */
      readonly group: string
    }

    const prepare = <E>(envelope: SmtpProtocol.Envelope<E>): InvalidInputError | Prepared<E> => {
      const invalid = checkEnvelope(envelope)
      if (invalid !== undefined) return invalid
      const content = envelope.content
      const known = typeof content === "string" ? encoder.encode(content) : content
      const size = known instanceof Uint8Array ? dataEncoder.canonicalSize(known) : envelope.size
      if (size !== undefined && capabilities.size !== undefined && size > capabilities.size) {
        return new InvalidInputError({
          field: "content",
          reason: `the message is ${size} bytes and the server accepts at most ${capabilities.size} (SIZE)`
        })
      }
      const useBdat = capabilities.chunking
      const mail = commands.mailFrom(envelope.from, {
        size: capabilities.size !== undefined || capabilities.keywords.has("SIZE") ? size : undefined,
        eightBitMime: capabilities.eightBitMime && (known instanceof Uint8Array ? isEightBit(known) : true),
        smtpUtf8: capabilities.smtpUtf8 && [envelope.from, ...envelope.to].some((a) => !commands.isAscii(a)),
        dsn: capabilities.dsn ? envelope.dsn : undefined
      })
      const rcpts = envelope.to.map((to) => commands.rcptTo(to, capabilities.dsn ? envelope.dsn : undefined))
      const dataInGroup = !useBdat && envelope.partialDelivery !== "abort"
      return {
        envelope,
        known,
        mail,
        rcpts,
        useBdat,
        dataInGroup,
        group: mail + rcpts.join("") + (dataInGroup ? "DATA\r\n" : "")
      }
    }

    /**
     * RFC 2920 §3.1: the next message's group may ride behind this body's end.
     * Its replies are then read when that message is sent, and nothing else
     * may be sent in between.
     */
    let groupAhead: Prepared<unknown> | undefined = undefined
    /** The message in flight: whether its end was written, and its reply read. */
    let current: { written: boolean; replied: boolean } | undefined = undefined

    const send = <E>(
      envelope: SmtpProtocol.Envelope<E>,
      next: SmtpProtocol.Envelope<unknown> | undefined
    ): Effect.Effect<SmtpProtocol.TransactionResult, SmtpError | E> =>
      Effect.gen(function*() {
        if (broken !== undefined) return yield* Effect.fail(broken)
        const ahead = groupAhead
        groupAhead = undefined
        if (ahead !== undefined && ahead.envelope !== envelope) {
          return yield* Effect.dieMessage("a message was sent while another one's commands were in flight")
        }
        const prepared = ahead === undefined ? prepare(envelope) : ahead as Prepared<E>
        if (prepared instanceof InvalidInputError) return yield* prepared
        const { dataInGroup, known, mail, rcpts, useBdat } = prepared
        const abortOnRejection = envelope.partialDelivery === "abort"
        const started = yield* Clock.currentTimeMillis
        const following = next !== undefined && capabilities.pipelining ? prepare(next) : undefined
        const trailer = following === undefined || following instanceof InvalidInputError
          ? undefined
          : following

        const accepted: Array<string> = []
        const rejected: Array<RecipientRejection> = []
        const recipients: Array<RecipientRejection> = []
        let mailReply: Reply
        let dataReply: Reply | undefined = undefined
        if (capabilities.pipelining) {
          // RFC 2920: MAIL, every RCPT and DATA in one write; replies in order.
          if (ahead === undefined) yield* sendLines(prepared.group, timeouts.mail, "MAIL FROM")
          mailReply = yield* reply(timeouts.mail, "MAIL FROM")
          for (const to of envelope.to) {
            const r = yield* reply(timeouts.rcpt, "RCPT TO")
            recipients.push(rejection(to, r))
            if (r.code === 250 || r.code === 251) accepted.push(to)
            else rejected.push(rejection(to, r))
          }
          if (dataInGroup) dataReply = yield* reply(timeouts.dataInitiation, "DATA")
        } else {
          mailReply = yield* command(mail, timeouts.mail, "MAIL FROM")
          if (mailReply.code === 250) {
            for (let i = 0; i < envelope.to.length; i++) {
              const r = yield* command(rcpts[i], timeouts.rcpt, "RCPT TO")
              recipients.push(rejection(envelope.to[i], r))
              if (r.code === 250 || r.code === 251) accepted.push(envelope.to[i])
              else rejected.push(rejection(envelope.to[i], r))
            }
          }
        }

        // A pipelined DATA may have been accepted though the transaction
        // cannot go on; an empty body ends it without delivering anything.
        const abandonData = dataReply?.code === 354
          ? Effect.zipRight(
            write(ascii(".\r\n"), timeouts.dataBlock, "DATA"),
            Effect.ignore(readReply(timeouts.dataTermination, "the reply to an abandoned DATA"))
          )
          : Effect.void

        if (mailReply.code !== 250) {
          yield* abandonData
          return yield* recover(commandError("MAIL FROM", mailReply))
        }
        if (accepted.length === 0) {
          yield* abandonData
          const first = rejected[0]
          return yield* recover(
            new SmtpCommandError({
              command: "RCPT TO",
              statusCode: first.statusCode,
              enhancedStatusCode: first.enhancedStatusCode,
              serverMessage: first.message,
              recipient: envelope.to.length === 1 ? first.recipient : undefined,
              rejectedRecipients: rejected
            })
          )
        }
        if (abortOnRejection && rejected.length > 0) {
          const first = rejected[0]
          return yield* recover(
            new SmtpCommandError({
              command: "RCPT TO",
              statusCode: first.statusCode,
              enhancedStatusCode: first.enhancedStatusCode,
              serverMessage: first.message,
              recipient: rejected.length === 1 ? first.recipient : undefined,
              rejectedRecipients: rejected
            })
          )
        }
        if (dataReply === undefined && !useBdat) {
          dataReply = yield* command("DATA\r\n", timeouts.dataInitiation, "DATA")
        }
        if (dataReply !== undefined && dataReply.code !== 354) {
          return yield* recover(commandError("DATA", dataReply))
        }
        const envelopeDone = yield* Clock.currentTimeMillis

        // The next group goes out with the end of this body, in the same write.
        const after = trailer === undefined ? undefined : ascii(trailer.group)
        if (trailer !== undefined) {
          groupAhead = trailer as Prepared<unknown>
          if (log !== undefined) yield* log.client(trailer.group)
        }
        // Past the end of the message, a lost reply leaves the outcome unknown.
        const ended = { written: false, replied: false }
        current = ended
        const body = (useBdat ? sendBdat(known, after, ended) : sendData(known, after, ended)).pipe(
          Effect.mapError((error) =>
            ended.written && isSmtpFailure(error) &&
              (error._tag === "SocketError" || error._tag === "TimeoutError" || error._tag === "SmtpProtocolError")
              ? new DeliveryUnknownError({ cause: error, messageId: envelope.messageId, recipients: accepted })
              : error
          )
        )
        // Cut off while waiting, the reply was never read: the state stays "unknown".
        const [final, bytesSent] = yield* Effect.onExit(body, (exit) =>
          Exit.isInterrupted(exit) ? Effect.void : Effect.sync(() => {
            ended.replied = true
          }))
        if (final.code !== 250) {
          return yield* Effect.fail(commandError(useBdat ? "BDAT" : "DATA", final))
        }
        const finished = yield* Clock.currentTimeMillis
        return {
          accepted,
          rejected,
          recipients,
          response: `${final.code}${final.enhancedCode ? ` ${final.enhancedCode}` : ""} ${text(final)}`,
          statusCode: final.code,
          enhancedStatusCode: final.enhancedCode,
          queueId: queueIdOf(text(final)),
          bytesSent,
          timings: { envelopeMs: envelopeDone - started, dataMs: finished - envelopeDone }
        }
      })

    const sendData = <E>(
      content: Uint8Array | Stream.Stream<Uint8Array, E>,
      after: Uint8Array | undefined,
      ended: { written: boolean; replied: boolean }
    ): Effect.Effect<readonly [Reply, number], SmtpError | E> =>
      Effect.gen(function*() {
        const body = dataEncoder.make(true)
        let bytes = 0
        if (content instanceof Uint8Array) {
          const encoded = concat(body.write(content), body.end())
          bytes = encoded.length
          if (log !== undefined) yield* log.body(encoded)
          yield* write(after === undefined ? encoded : concat(encoded, after), timeouts.dataBlock, "a DATA block")
          ended.written = true
        } else {
          yield* Stream.runForEach(content, (chunk) => {
            const encoded = body.write(chunk)
            bytes += encoded.length
            if (encoded.length === 0) return Effect.void
            const block = write(encoded, timeouts.dataBlock, "a DATA block")
            return log === undefined ? block : Effect.zipRight(log.body(encoded), block)
          }).pipe(
            // The body stream failed mid-DATA: the server holds a partial
            // message that must never be delivered, so the session is done.
            Effect.tapError((error) =>
              Effect.sync(() => {
                if (broken === undefined && !isSmtpFailure(error)) {
                  broken = new SmtpProtocolError({ reason: "UnexpectedReply", detail: "the message body failed" })
                }
              })
            )
          )
          const tail = body.end()
          bytes += tail.length
          yield* write(after === undefined ? tail : concat(tail, after), timeouts.dataBlock, "a DATA block")
          ended.written = true
        }
        const final = yield* reply(timeouts.dataTermination, "the reply to the end of DATA")
        return [final, bytes] as const
      })

    const sendBdat = <E>(
      content: Uint8Array | Stream.Stream<Uint8Array, E>,
      after: Uint8Array | undefined,
      ended: { written: boolean; replied: boolean }
    ): Effect.Effect<readonly [Reply, number], SmtpError | E> =>
      Effect.gen(function*() {
        const body = dataEncoder.make(false)
        let bytes = 0
        const chunk = (data: Uint8Array, last: boolean) =>
          Effect.gen(function*() {
            bytes += data.length
            const line = `BDAT ${data.length}${last ? " LAST" : ""}\r\n`
            if (log !== undefined) yield* Effect.zipRight(log.client(line), log.body(data))
            const chunkBytes = concat(ascii(line), data)
            yield* write(
              last && after !== undefined ? concat(chunkBytes, after) : chunkBytes,
              timeouts.dataBlock,
              "a BDAT chunk"
            )
            if (last) ended.written = true
            const r = yield* reply(last ? timeouts.dataTermination : timeouts.dataBlock, "the reply to BDAT")
            // RFC 3030: after a failed chunk no further BDAT is sent.
            if (!last && r.code !== 250) return yield* recover(commandError("BDAT", r))
            return r
          })
        if (content instanceof Uint8Array) {
          const final = yield* chunk(concat(body.write(content), body.end()), true)
          return [final, bytes] as const
        }
        // One chunk is held back so the last one can carry LAST.
        let held: Uint8Array | undefined = undefined
        yield* Stream.runForEach(content, (data): Effect.Effect<unknown, SmtpError> => {
          const encoded = body.write(data)
          if (encoded.length === 0) return Effect.void
          const previous = held
          held = encoded
          return previous === undefined ? Effect.void : chunk(previous, false)
        })
        const tail = body.end()
        const last: Uint8Array = held === undefined ? tail : concat(held, tail)
        const final = yield* chunk(last, true)
        return [final, bytes] as const
      })

    /**
     * Interrupted in the middle of an exchange: the server's state is
     * unknown, so the connection is neither reused nor said goodbye to.
     */
    let interrupted = false
    const inFlight = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.onInterrupt(
        guard(effect),
        () =>
          Effect.sync(() => {
            interrupted = true
          })
      )

    const session: SmtpProtocol.Session = {
      host: options.host,
      port: options.port,
      remoteAddress: connection.remoteAddress,
      greeting,
      capabilities: Effect.sync(() => capabilities),
      isTls: connection.isTls,
      broken: Effect.sync(() => broken),
      interrupted: Effect.sync(() => interrupted),
      awaitingFinalReply: Effect.sync(() => current !== undefined && current.written && !current.replied),
      authenticate: (credentials) => inFlight(authenticate(credentials)),
      send: (envelope, sendOptions) => inFlight(send(envelope, sendOptions?.pipelineNext)),
      rset: inFlight(rset),
      noop: inFlight(Effect.flatMap(command("NOOP\r\n", timeouts.command, "NOOP"), (r) => expect(r, "NOOP", 250))),
      quit: Effect.gen(function*() {
        if (broken !== undefined || interrupted || groupAhead !== undefined) return
        // Quit usually runs in a finalizer, which is uninterruptible: there a
        // timeout cannot stop the wait for the reply, so a silent server would
        // hold the close (and connection.duration) forever. In a child fiber of
        // its own, only the timeout can end it: an interruption pending on the
        // caller (a pool shutting down) neither skips the goodbye nor hangs it.
        const goodbye = yield* Effect.fork(Effect.interruptible(
          command("QUIT\r\n", Duration.min(timeouts.command, quitTimeoutCap), "QUIT")
        ))
        yield* Effect.exit(Fiber.join(goodbye))
        yield* connection.close
      })
    }
    return session
  })

const isSmtpFailure: (u: unknown) => u is SmtpError = isSmtpError

/**
 * The server's queue ID, from the common reply forms: Postfix and many others
 * "queued as 4XyZ", Exim "id=1kXyZ-...", Sendmail "4ABC123 Message accepted".
 */
const queueIdOf = (reply: string): string | undefined =>
  /queued as ([^\s;,)]+)/i.exec(reply)?.[1] ??
    /\bid=([^\s;,)]+)/i.exec(reply)?.[1] ??
    /^([A-Za-z0-9]{8,})\s+Message accepted/i.exec(reply)?.[1]
