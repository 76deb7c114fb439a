/**
 * Attachments from a file path (`@effect-smtp/message/node`): the exact bytes
 * of the file, its name and type; a wrong path refused before the message is
 * composed; read afresh for a DKIM signature; and bounded memory on a file
 * much larger than what may be held (a child process, as DkimMemory.test.ts).
 */
import { SmtpError } from "@effect-smtp/client"
import { MailMessage } from "@effect-smtp/message"
import { NodeAttachment } from "@effect-smtp/message/node"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { simpleParser } from "mailparser"
import { execFile } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-smtp-attachment-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const collect = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  Stream.runCollect(stream).pipe(Effect.map((chunks) => Buffer.concat(chunks.map((c) => Buffer.from(c)))))

describe("NodeAttachment.fromPath", () => {
  it.effect("the file's exact bytes, its name and the type its extension suggests", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const bytes = Crypto.randomBytes(300_000)
      const path = Path.join(dir, "invoice.pdf")
      Fs.writeFileSync(path, bytes)
      // A small chunk size: the file crosses many reads.
      const attachment = yield* NodeAttachment.fromPath(path, { chunkSize: 4096 })
      expect(attachment.filename).toBe("invoice.pdf")
      const composed = yield* MailMessage.compose({
        from: "shop@example.com",
        to: "alice@example.com",
        text: "Your invoice.",
        attachments: [attachment, yield* NodeAttachment.fromPath(path, { filename: "copy.bin" })]
      })
      const parsed = yield* Effect.promise(() =>
        Effect.runPromise(collect(composed.content)).then((b) => simpleParser(b))
      )
      expect(parsed.attachments.map((a) => [a.filename, a.contentType])).toEqual([
        ["invoice.pdf", "application/pdf"],
        ["copy.bin", "application/octet-stream"]
      ])
      expect(Buffer.compare(parsed.attachments[0]!.content, bytes)).toBe(0)
      expect(Buffer.compare(parsed.attachments[1]!.content, bytes)).toBe(0)
    }).pipe(Effect.scoped))

  it.effect("a missing file, a directory: InvalidInputError naming the path, before anything is composed", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const missing = yield* Effect.flip(NodeAttachment.fromPath(Path.join(dir, "nope.pdf")))
      expect(missing).toBeInstanceOf(SmtpError.InvalidInputError)
      expect(missing.field).toBe("attachments.path")
      expect(missing.message).toContain(`cannot read ${Path.join(dir, "nope.pdf")}: no such file`)
      const directory = yield* Effect.flip(NodeAttachment.fromPath(dir))
      expect(directory.message).toContain("not a regular file")
      const chunk = yield* Effect.flip(NodeAttachment.fromPath(dir, { chunkSize: 10 }))
      expect(chunk.field).toBe("attachments.chunkSize")
    }).pipe(Effect.scoped))

  it.effect("a file removed after the check fails the content with the same typed error", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = Path.join(dir, "gone.txt")
      Fs.writeFileSync(path, "soon gone")
      const attachment = yield* NodeAttachment.fromPath(path)
      Fs.rmSync(path)
      const composed = yield* MailMessage.compose({
        from: "a@example.com",
        to: "b@example.com",
        attachments: [attachment]
      })
      const error = yield* Effect.flip(collect(composed.content))
      expect(error).toBeInstanceOf(SmtpError.InvalidInputError)
      expect(error.message).toContain("no such file")
    }).pipe(Effect.scoped))

  it.effect("DKIM reads the file twice (sign, then send): the signed message carries it whole", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const bytes = Crypto.randomBytes(2 * 1024 * 1024)
      const path = Path.join(dir, "data.bin")
      Fs.writeFileSync(path, bytes)
      const key = Crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString()
      const composed = yield* MailMessage.compose({
        from: "a@example.com",
        to: "b@example.com",
        attachments: [yield* NodeAttachment.fromPath(path)],
        dkim: { domain: "example.com", selector: "s", privateKey: Redacted.make(key) }
      })
      const message = yield* collect(composed.content)
      expect(message.toString("latin1")).toMatch(/^DKIM-Signature: /)
      const parsed = yield* Effect.promise(() => simpleParser(message))
      expect(Buffer.compare(parsed.attachments[0]!.content, bytes)).toBe(0)
    }).pipe(Effect.scoped))
})

const script = Path.join(import.meta.dirname, "utils", "attachLarge.ts")

const run = (path: string, hold: boolean) =>
  Effect.callback<{ readonly octets: number; readonly baseMiB: number; readonly growthMiB: number }, Error>(
    (resume) => {
      execFile(
        process.execPath,
        ["--import", "tsx", "--expose-gc", script, path, ...(hold ? ["hold"] : [])],
        { cwd: Path.join(import.meta.dirname, ".."), maxBuffer: 1 << 20 },
        (error, stdout, stderr) => {
          if (error !== null) resume(Effect.fail(new Error(`${error.message}\n${stderr}`)))
          else resume(Effect.succeed(JSON.parse(stdout)))
        }
      )
    }
  )

describe("a large file as an attachment", () => {
  it.effect(
    "96 MiB composed and read through, memory alive growing by under 16 MiB; holding it shows in the same measure",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = Path.join(dir, "large.bin")
        const block = Crypto.randomBytes(1024 * 1024)
        const fd = Fs.openSync(path, "w")
        for (let i = 0; i < 96; i++) Fs.writeSync(fd, block)
        Fs.closeSync(fd)
        const streamed = yield* run(path, false)
        // base64: 4 octets per 3, plus CRLF every 76.
        expect(streamed.octets).toBeGreaterThan(96 * 1048576 * 4 / 3)
        expect(streamed.growthMiB).toBeLessThan(16)
        const held = yield* run(path, true)
        expect(held.growthMiB).toBeGreaterThan(96)
      }).pipe(Effect.scoped),
    { timeout: 180_000 }
  )
})
