import { SmtpError } from "@effect-smtp/client"
import { NodeMail } from "@effect-smtp/node/mail"
import { smtpServer } from "@effect-smtp/test-utils/smtpServer"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-smtp-nodemail-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** The base64 body of the MIME part whose headers name `filename`. */
const attachmentBytes = (message: string, filename: string): Buffer => {
  const start = message.indexOf(`filename=${filename}`)
  const body = message.slice(message.indexOf("\r\n\r\n", start) + 4)
  return Buffer.from(body.slice(0, body.indexOf("\r\n--")).replace(/\r\n/g, ""), "base64")
}

describe("NodeMail.promiseClient(...).sendMail", () => {
  it.live("composes and sends in one call, a file attachment streamed from its path", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const bytes = Crypto.randomBytes(200_000)
      const path = Path.join(dir, "report.pdf")
      Fs.writeFileSync(path, bytes)
      const server = yield* smtpServer({ hideSTARTTLS: true })
      const client = NodeMail.promiseClient({ host: "127.0.0.1", port: server.port, security: "none" })
      const result = yield* Effect.promise(() =>
        client.sendMail({
          from: { name: "Shop", address: "shop@example.com" },
          to: "alice@example.com",
          bcc: "audit@example.com",
          subject: "Your report",
          text: "Attached.",
          attachments: [{ path }, { filename: "note.txt", content: "hello" }]
        })
      )
      expect(result.accepted).toEqual(["alice@example.com", "audit@example.com"])
      expect(result.messageId).toMatch(/^<.+@example\.com>$/)
      const message = server.received[0]!.data!.toString("latin1")
      expect(message).toMatch(/^Subject: Your report\r$/m)
      expect(message).not.toMatch(/^Bcc:/im)
      expect(message).toMatch(/Content-Type: application\/pdf/)
      expect(Buffer.compare(attachmentBytes(message, "report.pdf"), bytes)).toBe(0)
      // send and verify are there too, on the same client.
      yield* Effect.promise(() => client.verify())
      yield* Effect.promise(() => client.close())
    }).pipe(Effect.scoped))

  it.live("a file that cannot be read rejects with InvalidInputError before any connection", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      let accepted = 0
      const server = yield* smtpServer({
        hideSTARTTLS: true,
        onConnect(_session, callback) {
          accepted++
          callback()
        }
      })
      const client = NodeMail.promiseClient({ host: "127.0.0.1", port: server.port, security: "none" })
      const error = yield* Effect.promise(() =>
        client
          .sendMail({
            from: "a@example.com",
            to: "b@example.com",
            attachments: [{ path: Path.join(dir, "missing.pdf") }]
          })
          .then(() => undefined, (e: unknown) => e)
      )
      expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
      expect((error as SmtpError.InvalidInputError).field).toBe("attachments.path")
      expect(accepted).toBe(0)
      expect(server.received).toEqual([])
      yield* Effect.promise(() => client.close())
    }).pipe(Effect.scoped))
})
