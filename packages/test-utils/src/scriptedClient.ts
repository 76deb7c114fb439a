/**
 * The client most tests send through: `SmtpClient` over `SmtpProtocol` over
 * an in-memory `TestSocket` whose server side is `script`, without telemetry.
 */
import { SmtpClient, SmtpMetrics, SmtpProtocol } from "@effect-smtp/client"
import { TestSocket } from "@effect-smtp/testing"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** `SmtpClient.layer(options)` on `script`'s server (`TestSocket.layer(script, socket)`), no metrics recorded. */
export const scriptedClient = (
  script: (server: TestSocket.ServerSide) => Effect.Effect<void, unknown>,
  options: SmtpClient.Options,
  socket: TestSocket.Options = {}
) =>
  SmtpClient.layer(options).pipe(
    Layer.provide(SmtpProtocol.layer),
    Layer.provide(TestSocket.layer(script, socket)),
    Layer.provide(SmtpMetrics.layerNoop)
  )
