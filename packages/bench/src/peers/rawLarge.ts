/**
 * The reference for a large message: a raw node:net socket that writes the
 * same bytes as fast as the socket drains (`write` until it returns false,
 * then wait for "drain"), inside the least SMTP that smtp-sink accepts.
 */
import type * as Effect from "effect/Effect"
import * as Net from "node:net"
import type * as Message from "../message.js"
import { fromPromise } from "./fromPromise.js"
import { onReplies, unexpected } from "./replyReader.js"

export interface Options {
  readonly host: string
  readonly port: number
  readonly from: string
  readonly to: string
  readonly message: Message.Large
}

const writeBody = (socket: Net.Socket, message: Message.Large) => {
  let written = 0
  const next = () => {
    while (written < message.blocks) {
      written++
      if (!socket.write(message.block)) return socket.once("drain", next)
    }
    socket.write(".\r\n")
  }
  socket.write(message.head)
  next()
}

const run = (options: Options) =>
  new Promise<void>((resolve, reject) => {
    const socket = Net.connect({ host: options.host, port: options.port })
    const fail = (error: Error) => {
      socket.destroy()
      reject(error)
    }
    socket.on("error", fail)
    // greeting, EHLO, MAIL, RCPT, 354, 250 after the dot, QUIT
    const expected = [220, 250, 250, 250, 354, 250, 221]
    let reply = 0
    onReplies(socket, (code, line) => {
      const step = reply++
      if (code !== expected[step]) return fail(unexpected(String(expected[step]), line))
      switch (step) {
        case 0:
          return socket.write("EHLO bench.local\r\n")
        case 1:
          return socket.write(
            `MAIL FROM:<${options.from}> SIZE=${options.message.size}\r\nRCPT TO:<${options.to}>\r\nDATA\r\n`
          )
        case 4:
          return writeBody(socket, options.message)
        case 5:
          return socket.write("QUIT\r\n")
        case 6:
          socket.end()
          return resolve()
      }
    })
  })

export const send = (options: Options): Effect.Effect<void, Error> => fromPromise(() => run(options))
