/**
 * nodemailer's pooled SMTP transport, fed the same raw message: `count`
 * sends kept `inFlight` at a time by plain promises (no Effect in its way).
 */
import type * as Effect from "effect/Effect"
import * as Nodemailer from "nodemailer"
import { fromPromise } from "./fromPromise.js"

export interface Options {
  readonly host: string
  readonly port: number
  readonly from: string
  readonly to: string
  readonly message: string
  readonly count: number
  readonly maxConnections: number
  readonly inFlight: number
}

const run = async (options: Options): Promise<void> => {
  const transport = Nodemailer.createTransport({
    host: options.host,
    port: options.port,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: options.maxConnections,
    maxMessages: Infinity
  })
  try {
    let next = 0
    const worker = async () => {
      while (next < options.count) {
        next++
        await transport.sendMail({ envelope: { from: options.from, to: [options.to] }, raw: options.message })
      }
    }
    await Promise.all(Array.from({ length: Math.min(options.inFlight, options.count) }, worker))
  } finally {
    transport.close()
  }
}

export const send = (options: Options): Effect.Effect<void, Error> => fromPromise(() => run(options))
