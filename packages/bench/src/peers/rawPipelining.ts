/**
 * The ceiling: a raw node:net client that pipelines exactly as far as RFC
 * 2920 allows on one connection. EHLO once; MAIL, RCPT and DATA in one write;
 * after the 354, the body, its final dot and the next message's MAIL, RCPT
 * and DATA in one write (§3.1: content may open the next group). So each
 * message costs one round trip and one write, and nothing else: no encoding
 * (the bytes are CRLF already and have no leading dots), no error handling
 * beyond stopping.
 */
import type * as Effect from "effect/Effect"
import * as Net from "node:net"
import { fromPromise } from "./fromPromise.js"
import { onReplies, unexpected } from "./replyReader.js"

export interface Options {
  readonly host: string
  readonly port: number
  readonly from: string
  readonly to: string
  /** The message, CRLF line ends, no line starting with ".". */
  readonly message: string
  readonly count: number
}

const run = (options: Options) =>
  new Promise<void>((resolve, reject) => {
    const socket = Net.connect({ host: options.host, port: options.port })
    socket.setNoDelay(true)
    const envelope = Buffer.from(`MAIL FROM:<${options.from}>\r\nRCPT TO:<${options.to}>\r\nDATA\r\n`, "latin1")
    const body = Buffer.from(`${options.message}.\r\n`, "latin1")
    const bodyThenNext = Buffer.concat([body, envelope])

    // greeting, EHLO, then four replies a message (MAIL, RCPT, 354, 250), QUIT
    let phase: "greeting" | "ehlo" | "mail" | "quit" = "greeting"
    let reply = 0
    let delivered = 0
    const fail = (error: Error) => {
      socket.destroy()
      reject(error)
    }
    socket.on("error", fail)
    onReplies(socket, (code, line) => {
      switch (phase) {
        case "greeting":
          if (code !== 220) return fail(unexpected("220", line))
          phase = "ehlo"
          socket.write("EHLO bench.local\r\n")
          return
        case "ehlo":
          if (code !== 250) return fail(unexpected("250 to EHLO", line))
          if (options.count === 0) {
            phase = "quit"
            socket.write("QUIT\r\n")
            return
          }
          phase = "mail"
          socket.write(envelope)
          return
        case "mail": {
          const step = reply++ % 4
          if (step === 2) {
            if (code !== 354) return fail(unexpected("354", line))
            // The last body ends the pipeline; every other carries the next group.
            socket.write(delivered + 1 < options.count ? bodyThenNext : body)
            return
          }
          if (code !== 250) return fail(unexpected("250", line))
          if (step === 3 && ++delivered === options.count) {
            phase = "quit"
            socket.write("QUIT\r\n")
          }
          return
        }
        case "quit":
          socket.end()
          return resolve()
      }
    })
  })

/** Sends `count` copies of the message on one pipelined connection. */
export const send = (options: Options): Effect.Effect<void, Error> => fromPromise(() => run(options))
