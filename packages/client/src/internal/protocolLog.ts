import * as Effect from "effect/Effect"
import type { ProtocolLogOptions } from "../SmtpProtocol.js"
import { render, type Reply } from "./reply.js"

/** @internal */
export interface ProtocolLog {
  readonly client: (lines: string) => Effect.Effect<void>
  /** A command whose arguments are secret: only the verb is shown. */
  readonly clientSecret: (verb: string) => Effect.Effect<void>
  readonly server: (reply: Reply) => Effect.Effect<void>
  readonly body: (bytes: Uint8Array) => Effect.Effect<void>
}

const decoder = new TextDecoder()

/** @internal */
export const make = (options: ProtocolLogOptions | boolean | undefined): ProtocolLog | undefined => {
  if (options === undefined || options === false) return undefined
  const settings = options === true ? {} : options
  const level = settings.level ?? "Info"
  const emit = (prefix: "C" | "S", text: string) => {
    const lines = text.split("\r\n").filter((l) => l.length > 0).map((l) => `${prefix}: ${l}`)
    return Effect.logWithLevel(level)(lines.join("\n")).pipe(Effect.annotateLogs("smtp", prefix))
  }
  return {
    client: (lines) => emit("C", lines),
    clientSecret: (verb) => emit("C", `${verb}${verb.length > 0 ? " " : ""}<redacted>`),
    server: (reply) => emit("S", render(reply)),
    body: (bytes) =>
      settings.body === true ? emit("C", decoder.decode(bytes)) : emit("C", `<message body: ${bytes.length} bytes>`)
  }
}
