import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
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
import * as messageBody from "./messageBody.js"
import * as protocolLog from "./protocolLog.js"
import * as readTimer from "./readTimer.js"
import { type Reply, ReplyParser, text } from "./reply.js"
import * as sasl from "./sasl.js"
import * as slab from "./slab.js"

/** Saying goodbye never holds a close longer than this. */
const quitTimeoutCap = Duration.seconds(10)

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

    /** Marks the session broken, as `guard` does, without an effect around it. */
    const failWith = (error: SmtpError): Effect.Effect<never, SmtpError> => {
      if (broken === undefined && breaksSession(error)) broken = error
      return Effect.fail(error)
    }

    const clock = yield* Effect.clock
    const poll = connection.poll
    const awaitRead = connection.awaitRead

    // Timed by a per-session watchdog where the transport allows it (see readTimer).
    const timer = awaitRead === undefined ? undefined : yield* readTimer.make(Object.values(timeouts))

    /** A reply from what already arrived (or why it cannot be parsed); `undefined` when more must come. */
    const buffered = (): Reply | SmtpProtocolError | undefined => {
      const ready = parser.take()
      if (ready !== undefined || poll === undefined) return ready
      for (let chunk = poll(); chunk !== undefined; chunk = poll()) {
        const error = parser.push(chunk)
        if (error !== undefined) return error
        const reply = parser.take()
        if (reply !== undefined) return reply
      }
      return undefined
    }

    const readReply = (timeout: Duration.Duration, operation: string): Effect.Effect<Reply, SmtpError> => {
      // Data that already arrived needs no timed wait.
      const ready = buffered()
      if (ready instanceof SmtpProtocolError) return failWith(ready)
      if (ready !== undefined) return Effect.succeed(ready)
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

    // 421: the server is closing the channel; whatever we asked, we are done.
    const unlessClosing = (r: Reply, operation: string): Effect.Effect<Reply, SmtpError> =>
      r.code === 421 ? failWith(commandError(operation, r)) : Effect.succeed(r)

    const reply = (timeout: Duration.Duration, operation: string): Effect.Effect<Reply, SmtpError> => {
      if (log === undefined) {
        const ready = buffered()
        if (ready instanceof SmtpProtocolError) return failWith(ready)
        if (ready !== undefined) return unlessClosing(ready, operation)
      }
      return Effect.flatMap(logged(timeout, operation), (r) => unlessClosing(r, operation))
    }

    // The connection times a write only when it has to wait for the buffer to drain.
    const write = (bytes: Uint8Array, timeout: Duration.Duration, operation: string) =>
      guard(connection.write(bytes, { duration: timeout, operation }))

    /** Writes command lines; `secret` keeps all but the verb out of the protocol log. */
    const sendLines = (lines: string, timeout: Duration.Duration, operation: string, secret?: string) =>
      log === undefined
        ? write(slab.encode(lines), timeout, operation)
        : Effect.zipRight(
          secret === undefined ? log.client(lines) : log.clientSecret(secret),
          write(slab.encode(lines), timeout, operation)
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

    /** A reply the group is answered with: how long it may take, and what it answers. */
    interface Expected {
      readonly timeout: Duration.Duration
      readonly operation: string
    }
    const mailReply: Expected = { timeout: timeouts.mail, operation: "MAIL FROM" }
    const rcptReply: Expected = { timeout: timeouts.rcpt, operation: "RCPT TO" }
    const dataReply: Expected = { timeout: timeouts.dataInitiation, operation: "DATA" }

    /** Everything about a message that needs no round trip: checks, the body's facts, command lines. */
    interface Prepared<E> {
      readonly envelope: SmtpProtocol.Envelope<E>
      readonly body: messageBody.Body<E>
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
      /** The group's replies, in order. */
      readonly expected: ReadonlyArray<Expected>
    }

    const prepare = <E>(envelope: SmtpProtocol.Envelope<E>): InvalidInputError | Prepared<E> => {
      const invalid = checkEnvelope(envelope)
      if (invalid !== undefined) return invalid
      const body = messageBody.of(envelope)
      const size = body._tag === "Known" ? body.facts.size : envelope.size
      if (size !== undefined && capabilities.size !== undefined && size > capabilities.size) {
        return new InvalidInputError({
          field: "content",
          reason: `the message is ${size} bytes and the server accepts at most ${capabilities.size} (SIZE)`
        })
      }
      const useBdat = capabilities.chunking
      const mail = commands.mailFrom(envelope.from, {
        size: capabilities.size !== undefined || capabilities.keywords.has("SIZE") ? size : undefined,
        eightBitMime: capabilities.eightBitMime && (body._tag === "Known" ? body.facts.eightBit : true),
        smtpUtf8: capabilities.smtpUtf8 && [envelope.from, ...envelope.to].some((a) => !commands.isAscii(a)),
        dsn: capabilities.dsn ? envelope.dsn : undefined
      })
      const rcpts = envelope.to.map((to) => commands.rcptTo(to, capabilities.dsn ? envelope.dsn : undefined))
      const dataInGroup = !useBdat && envelope.partialDelivery !== "abort"
      const expected: Array<Expected> = [mailReply]
      for (let i = 0; i < rcpts.length; i++) expected.push(rcptReply)
      if (dataInGroup) expected.push(dataReply)
      return {
        envelope,
        body,
        mail,
        rcpts,
        useBdat,
        dataInGroup,
        group: mail + rcpts.join("") + (dataInGroup ? "DATA\r\n" : ""),
        expected
      }
    }

    /**
     * The replies to a pipelined group, in order. Those already received are
     * taken without a wait (a busy connection's arrive with the previous
     * message's final reply); only a missing one is waited for, and timed.
     */
    const replies = (expected: ReadonlyArray<Expected>): Effect.Effect<Array<Reply>, SmtpError> => {
      const got: Array<Reply> = []
      const more: Effect.Effect<Array<Reply>, SmtpError> = Effect.suspend(() => {
        while (got.length < expected.length) {
          const { operation, timeout } = expected[got.length]
          const ready = log === undefined ? buffered() : undefined
          if (ready === undefined) {
            return Effect.flatMap(reply(timeout, operation), (r) => {
              got.push(r)
              return more
            })
          }
          if (ready instanceof SmtpProtocolError) return failWith(ready)
          // 421: the server is closing the channel; whatever we asked, we are done.
          if (ready.code === 421) return failWith(commandError(operation, ready))
          got.push(ready)
        }
        return Effect.succeed(got)
      })
      return more
    }

    /** The envelope without PIPELINING: each command waits for its reply. */
    const stepByStep = <E>(prepared: Prepared<E>): Effect.Effect<Array<Reply>, SmtpError> =>
      Effect.gen(function*() {
        const got = [yield* command(prepared.mail, timeouts.mail, "MAIL FROM")]
        if (got[0].code === 250) {
          for (const rcpt of prepared.rcpts) got.push(yield* command(rcpt, timeouts.rcpt, "RCPT TO"))
        }
        return got
      })

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
      next: SmtpProtocol.Envelope<unknown> | undefined,
      beforeEnd: Effect.Effect<void, E> | undefined
    ): Effect.Effect<SmtpProtocol.TransactionResult, SmtpError | E> =>
      Effect.suspend(() => {
        if (broken !== undefined) return Effect.fail(broken)
        const ahead = groupAhead
        groupAhead = undefined
        if (ahead !== undefined && ahead.envelope !== envelope) {
          return Effect.dieMessage("a message was sent while another one's commands were in flight")
        }
        const prepared = ahead === undefined ? prepare(envelope) : ahead as Prepared<E>
        if (prepared instanceof InvalidInputError) return Effect.fail(prepared)
        const started = clock.unsafeCurrentTimeMillis()
        const following = next !== undefined && capabilities.pipelining ? prepare(next) : undefined
        const trailer = following === undefined || following instanceof InvalidInputError ? undefined : following
        // RFC 2920: MAIL, every RCPT and DATA in one write; replies in order.
        const envelopeReplies = !capabilities.pipelining
          ? stepByStep(prepared)
          : ahead === undefined
          ? Effect.zipRight(sendLines(prepared.group, timeouts.mail, "MAIL FROM"), replies(prepared.expected))
          : replies(prepared.expected)
        return Effect.flatMap(envelopeReplies, (got) => afterEnvelope(prepared, got, trailer, started, beforeEnd))
      })

    /** Decides on the replies to MAIL, RCPT (and DATA): abandon, or send the body. */
    const afterEnvelope = <E>(
      prepared: Prepared<E>,
      got: ReadonlyArray<Reply>,
      trailer: Prepared<unknown> | undefined,
      started: number,
      beforeEnd: Effect.Effect<void, E> | undefined
    ): Effect.Effect<SmtpProtocol.TransactionResult, SmtpError | E> => {
      const { envelope } = prepared
      const mailReply = got[0]
      const accepted: Array<string> = []
      const rejected: Array<RecipientRejection> = []
      const recipients: Array<RecipientRejection> = []
      for (let i = 0; i < envelope.to.length && i + 1 < got.length; i++) {
        const r = got[i + 1]
        const result = rejection(envelope.to[i], r)
        recipients.push(result)
        if (r.code === 250 || r.code === 251) accepted.push(envelope.to[i])
        else rejected.push(result)
      }
      const dataReply = prepared.dataInGroup && capabilities.pipelining ? got[got.length - 1] : undefined

      // A pipelined DATA may have been accepted though the transaction
      // cannot go on; an empty body ends it without delivering anything.
      const abandonData = dataReply?.code === 354
        ? Effect.zipRight(
          write(slab.encode(".\r\n"), timeouts.dataBlock, "DATA"),
          Effect.ignore(readReply(timeouts.dataTermination, "the reply to an abandoned DATA"))
        )
        : Effect.void
      const refused = (all: boolean) => {
        const first = rejected[0]
        return new SmtpCommandError({
          command: "RCPT TO",
          statusCode: first.statusCode,
          enhancedStatusCode: first.enhancedStatusCode,
          serverMessage: first.message,
          recipient: (all ? envelope.to.length : rejected.length) === 1 ? first.recipient : undefined,
          rejectedRecipients: rejected
        })
      }

      if (mailReply.code !== 250) return Effect.zipRight(abandonData, recover(commandError("MAIL FROM", mailReply)))
      if (accepted.length === 0) return Effect.zipRight(abandonData, recover(refused(true)))
      if (envelope.partialDelivery === "abort" && rejected.length > 0) return recover(refused(false))

      const transfer = (data: Reply | undefined) =>
        data !== undefined && data.code !== 354
          ? recover(commandError("DATA", data))
          : sendBody(prepared, { accepted, rejected, recipients }, trailer, started, beforeEnd)
      return dataReply === undefined && !prepared.useBdat
        ? Effect.flatMap(command("DATA\r\n", timeouts.dataInitiation, "DATA"), transfer)
        : transfer(dataReply)
    }

    /** The body, the final reply, and the result. */
    const sendBody = <E>(
      prepared: Prepared<E>,
      envelopeResult: Pick<SmtpProtocol.TransactionResult, "accepted" | "rejected" | "recipients">,
      trailer: Prepared<unknown> | undefined,
      started: number,
      beforeEnd: Effect.Effect<void, E> | undefined
    ): Effect.Effect<SmtpProtocol.TransactionResult, SmtpError | E> => {
      const envelopeDone = clock.unsafeCurrentTimeMillis()
      // The next group goes out with the end of this body, in the same write.
      const after = trailer === undefined ? undefined : slab.encode(trailer.group)
      if (trailer !== undefined) groupAhead = trailer
      // Past the end of the message, a lost reply leaves the outcome unknown.
      const ended = { written: false, replied: false }
      current = ended
      const endGate = beforeEnd === undefined ? undefined : gate(beforeEnd)
      const delivery = prepared.useBdat
        ? sendBdat(prepared.body, after, ended, endGate)
        : sendData(prepared.body, after, ended, endGate)
      // Cut off while waiting, the reply was never read: the state stays "unknown".
      const outcome = Effect.matchEffect(delivery, {
        onFailure: (error) => {
          ended.replied = true
          return Effect.fail(
            ended.written && isSmtpFailure(error) &&
              (error._tag === "SocketError" || error._tag === "TimeoutError" || error._tag === "SmtpProtocolError")
              ? new DeliveryUnknownError({
                cause: error,
                messageId: prepared.envelope.messageId,
                recipients: envelopeResult.accepted
              })
              : error
          )
        },
        onSuccess: ([final, bytesSent]): Effect.Effect<SmtpProtocol.TransactionResult, SmtpError> => {
          ended.replied = true
          if (final.code !== 250) return Effect.fail(commandError(prepared.useBdat ? "BDAT" : "DATA", final))
          const finished = clock.unsafeCurrentTimeMillis()
          const response = text(final)
          return Effect.succeed({
            accepted: envelopeResult.accepted,
            rejected: envelopeResult.rejected,
            recipients: envelopeResult.recipients,
            response: `${final.code}${final.enhancedCode ? ` ${final.enhancedCode}` : ""} ${response}`,
            statusCode: final.code,
            enhancedStatusCode: final.enhancedCode,
            queueId: queueIdOf(response),
            bytesSent,
            timings: { envelopeMs: envelopeDone - started, dataMs: finished - envelopeDone }
          })
        }
      })
      return log === undefined || trailer === undefined ? outcome : Effect.zipRight(log.client(trailer.group), outcome)
    }

    /**
     * The caller's hook before the end of a message. A failure leaves the
     * server mid-message with no way back into step: the session is broken,
     * so it is closed without QUIT and never reused, and the end is never sent.
     */
    const gate = <E>(beforeEnd: Effect.Effect<void, E>): Effect.Effect<void, E> =>
      Effect.tapErrorCause(beforeEnd, (cause) =>
        Effect.sync(() => {
          // An interruption is recorded as such by `inFlight`.
          if (broken === undefined && !Cause.isInterruptedOnly(cause)) {
            broken = new SmtpProtocolError({
              reason: "UnexpectedReply",
              detail: "the message was abandoned before its end (beforeEndOfData failed)"
            })
          }
        }))

    const sendData = <E>(
      body: messageBody.Body<E>,
      after: Uint8Array | undefined,
      ended: { written: boolean; replied: boolean },
      endGate: Effect.Effect<void, E> | undefined
    ): Effect.Effect<readonly [Reply, number], SmtpError | E> => {
      const finalReply = (bytes: number) =>
        Effect.map(reply(timeouts.dataTermination, "the reply to the end of DATA"), (final) => [final, bytes] as const)
      if (body._tag === "Known") {
        const whole = dataEncoder.encodeWhole(body.bytes, body.facts, true, after)
        const writeWhole = write(whole.bytes, timeouts.dataBlock, "a DATA block")
        const written = Effect.flatMap(
          endGate === undefined ? writeWhole : Effect.zipRight(endGate, writeWhole),
          () => {
            ended.written = true
            return finalReply(whole.bodyLength)
          }
        )
        return log === undefined
          ? written
          : Effect.zipRight(log.body(whole.bytes.subarray(0, whole.bodyLength)), written)
      }
      return Effect.gen(function*() {
        const encoder = dataEncoder.make(true)
        let bytes = 0
        yield* Stream.runForEach(body.stream, (chunk) => {
          const encoded = encoder.write(chunk)
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
        const tail = encoder.end()
        bytes += tail.length
        if (endGate !== undefined) yield* endGate
        yield* write(after === undefined ? tail : concat(tail, after), timeouts.dataBlock, "a DATA block")
        ended.written = true
        return yield* finalReply(bytes)
      })
    }

    const sendBdat = <E>(
      body: messageBody.Body<E>,
      after: Uint8Array | undefined,
      ended: { written: boolean; replied: boolean },
      endGate: Effect.Effect<void, E> | undefined
    ): Effect.Effect<readonly [Reply, number], SmtpError | E> =>
      Effect.gen(function*() {
        let bytes = 0
        const chunk = (data: Uint8Array, last: boolean) =>
          Effect.gen(function*() {
            bytes += data.length
            const line = `BDAT ${data.length}${last ? " LAST" : ""}\r\n`
            if (log !== undefined) yield* Effect.zipRight(log.client(line), log.body(data))
            const chunkBytes = concat(slab.encode(line), data)
            if (last && endGate !== undefined) yield* endGate
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
        if (body._tag === "Known") {
          let line = ""
          const whole = dataEncoder.encodeWhole(body.bytes, body.facts, false, after, (length) => {
            line = `BDAT ${length} LAST\r\n`
            return slab.encode(line)
          })
          bytes = whole.bodyLength
          if (log !== undefined) {
            yield* Effect.zipRight(
              log.client(line),
              log.body(whole.bytes.subarray(line.length, line.length + whole.bodyLength))
            )
          }
          if (endGate !== undefined) yield* endGate
          yield* write(whole.bytes, timeouts.dataBlock, "a BDAT chunk")
          ended.written = true
          const final = yield* reply(timeouts.dataTermination, "the reply to BDAT")
          return [final, bytes] as const
        }
        const encoder = dataEncoder.make(false)
        // One chunk is held back so the last one can carry LAST.
        let held: Uint8Array | undefined = undefined
        yield* Stream.runForEach(body.stream, (data): Effect.Effect<unknown, SmtpError | E> => {
          const encoded = encoder.write(data)
          if (encoded.length === 0) return Effect.void
          const previous = held
          held = encoded
          return previous === undefined ? Effect.void : chunk(previous, false)
        })
        const tail = encoder.end()
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
      Effect.onExit(effect, (exit) => {
        if (Exit.isSuccess(exit)) return Effect.void
        return Effect.sync(() => {
          if (Cause.isInterruptedOnly(exit.cause)) {
            interrupted = true
            return
          }
          // What `guard` does, for the whole exchange.
          const failure = Cause.failureOption(exit.cause)
          if (broken === undefined && Option.isSome(failure) && isSmtpFailure(failure.value)) {
            if (breaksSession(failure.value)) broken = failure.value
          }
        })
      })

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
      send: (envelope, sendOptions) =>
        inFlight(send(envelope, sendOptions?.pipelineNext, sendOptions?.beforeEndOfData)),
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
