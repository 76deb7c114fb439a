/**
 * The least a raw client needs from the server's side: the code of each
 * complete reply, in order. A reply ends with a line whose fourth character
 * is a space (smtp-sink ends its EHLO reply with a bare "250 ").
 */
import type * as Net from "node:net"

export const onReplies = (socket: Net.Socket, onReply: (code: number, line: string) => void): void => {
  let pending = ""
  socket.setEncoding("latin1")
  socket.on("data", (data: string) => {
    pending += data
    let start = 0
    let end = pending.indexOf("\r\n", start)
    while (end !== -1) {
      if (end - start < 4 || pending.charCodeAt(start + 3) === 32) {
        onReply(Number(pending.slice(start, start + 3)), pending.slice(start, end))
      }
      start = end + 2
      end = pending.indexOf("\r\n", start)
    }
    pending = pending.slice(start)
  })
}

/** The error a raw client fails with on an unexpected reply. */
export const unexpected = (expected: string, line: string): Error =>
  new Error(`expected ${expected}, got ${JSON.stringify(line)}`)
