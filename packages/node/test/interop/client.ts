/**
 * The client as the interop tests run it: the real Node socket, no metrics,
 * optionally with every write recorded (what went on the wire), and a batch
 * sender that keeps every outcome so a failure lists them all.
 */
import { SmtpClient, SmtpMetrics, SmtpProtocol } from "@effect-smtp/client"
import { NodeSocket } from "@effect-smtp/node"
import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import { capturingSocket } from "../utils/capturingSocket.js"
import type { Endpoint } from "./servers.js"

export type ClientOptions = Omit<SmtpClient.Options, "host" | "port">

/** Plaintext unless `options` says otherwise; real-time timeouts generous enough for a loaded CI machine. */
export const clientLayer = (
  endpoint: Endpoint,
  options: ClientOptions = {},
  onWrite?: (bytes: Uint8Array) => void
): Layer.Layer<SmtpClient> =>
  SmtpClient.layer({ security: "none", timeout: "30 seconds", ...options, host: endpoint.host, port: endpoint.port })
    .pipe(
      Layer.provide(SmtpProtocol.layer),
      Layer.provide(
        onWrite === undefined ? NodeSocket.layer : capturingSocket(onWrite).pipe(Layer.provide(NodeSocket.layer))
      ),
      Layer.provide(SmtpMetrics.layerNoop)
    )

/** Every byte the client wrote, in order, and write by write. */
export const wire = () => {
  const writes: Array<Buffer> = []
  return {
    onWrite: (bytes: Uint8Array) => void writes.push(Buffer.from(bytes)),
    writes: () => writes.map((bytes) => bytes.toString("latin1")),
    text: () => Buffer.concat(writes).toString("latin1")
  }
}

export const send = <E = never>(endpoint: Endpoint, mail: SmtpClient.Mail<E>, options?: ClientOptions) =>
  SmtpClient.send(mail).pipe(Effect.provide(clientLayer(endpoint, options)))

/**
 * Sends all of `mails` at once through one client (so a pool is shared) and
 * expects every one to succeed, listing the failures otherwise.
 */
export const sendAllThrough = (
  layer: Layer.Layer<SmtpClient>,
  mails: ReadonlyArray<SmtpClient.Mail>
): Effect.Effect<ReadonlyArray<SmtpClient.SendResult>> =>
  Effect.gen(function*() {
    const outcomes = yield* Effect.forEach(mails, (mail) => Effect.result(SmtpClient.send(mail)), {
      concurrency: "unbounded"
    }).pipe(Effect.provide(layer))
    const failures = outcomes.flatMap((outcome, i) =>
      Result.isFailure(outcome) ? [`#${i}: ${outcome.failure.message}`] : []
    )
    expect(failures, `${failures.length} of ${mails.length} sends failed:\n${failures.slice(0, 5).join("\n")}`)
      .toEqual([])
    return outcomes.flatMap((outcome) => (Result.isSuccess(outcome) ? [outcome.success] : []))
  })
