import { SmtpError } from "@effect-smtp/client"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { Attachment } from "../MailMessage.js"

/** @internal */
export interface FromPathOptions {
  readonly filename?: string | undefined
  readonly contentType?: string | undefined
  readonly contentId?: string | undefined
  readonly chunkSize?: number | undefined
}

const defaultChunkSize = 64 * 1024

const describe = (error: unknown): string => {
  const code = (error as { code?: unknown }).code
  if (code === "ENOENT") return "no such file"
  if (code === "EACCES" || code === "EPERM") return "permission denied"
  if (code === "EISDIR") return "it is a directory"
  return typeof code === "string" ? code : String(error)
}

const unreadable = (path: string, reason: string) =>
  new SmtpError.InvalidInputError({ field: "attachments.path", reason: `cannot read ${path}: ${reason}` })

/** @internal */
export const fromPath = (
  path: string,
  options: FromPathOptions = {}
): Effect.Effect<Attachment<SmtpError.InvalidInputError>, SmtpError.InvalidInputError> =>
  Effect.gen(function*() {
    const chunkSize = options.chunkSize ?? defaultChunkSize
    if (!Number.isInteger(chunkSize) || chunkSize < 1024 || chunkSize > 16 * 1024 * 1024) {
      return yield* new SmtpError.InvalidInputError({
        field: "attachments.chunkSize",
        reason: `${chunkSize} is not a whole number of bytes from 1024 to 16 MiB`
      })
    }
    // Checked before the message is composed, so that a wrong path fails
    // before anything is sent, not halfway through the message.
    const stats = yield* Effect.tryPromise({
      try: () => Fs.promises.stat(path),
      catch: (error) => unreadable(path, describe(error))
    })
    if (!stats.isFile()) return yield* unreadable(path, "not a regular file")
    yield* Effect.tryPromise({
      try: () => Fs.promises.access(path, Fs.constants.R_OK),
      catch: (error) => unreadable(path, describe(error))
    })
    // A fresh read stream each time the content runs (DKIM reads it twice),
    // one chunk of `chunkSize` bytes in memory at a time.
    const file: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () =>
        Fs.createReadStream(path, { highWaterMark: chunkSize })[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>
    }
    const content = Stream.fromAsyncIterable(file, (error) => unreadable(path, describe(error)))
    return {
      filename: options.filename ?? Path.basename(path),
      content,
      ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
      ...(options.contentId === undefined ? {} : { contentId: options.contentId })
    }
  })
