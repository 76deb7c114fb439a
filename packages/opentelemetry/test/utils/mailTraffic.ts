/**
 * Applications that send mail through effect-smtp and serve their metrics to
 * Prometheus, and the mail they send: successes and the failures a mail
 * dashboard shows (a 550, a 535, a refused connection, a server that drops
 * the connection, a slow server). The observability kit's live test and
 * scripts/telemetry-picture.ts both drive them.
 */
import { SmtpClient, SmtpMetrics, SmtpPrometheus, type SmtpTelemetryProfile } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { MisbehavingServer } from "@effect-smtp/testing/node"
import { NodeHttpServer } from "@effect/platform-node"
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus"
import { type CollectionResult, MeterProvider } from "@opentelemetry/sdk-metrics"
import * as Effect from "effect/Effect"
import { HttpRouter } from "effect/http"
import * as Layer from "effect/Layer"
import { PrometheusMetrics } from "effect/observability"
import type * as Scope from "effect/Scope"
import { createServer } from "node:http"
import { OtelSmtpMetrics, PrometheusNaming } from "../../src/index.js"
import { alice, password, rawServer, smtpServer, trusted } from "./servers.js"

export const loopback = "127.0.0.1"

/** The JavaScript exporter, its collection renamed to the names a MailKit application exports. */
export class UnitSuffixedPrometheusExporter extends PrometheusExporter {
  override async collect(options?: Parameters<PrometheusExporter["collect"]>[0]): Promise<CollectionResult> {
    const collected = await super.collect(options)
    return { ...collected, resourceMetrics: PrometheusNaming.withUnitSuffixes(collected.resourceMetrics) }
  }
}

/** Where an application serves /metrics, and under which names. */
export interface Endpoint {
  readonly port: number
  readonly names: "javascript" | "unit-suffixed"
}

/**
 * An application's metrics backend under `profile`, served on each endpoint
 * (one MeterProvider, one reader per endpoint) for the scope's lifetime.
 */
export const application = (
  profile: SmtpTelemetryProfile.Name,
  endpoints: ReadonlyArray<Endpoint>
): Effect.Effect<Layer.Layer<SmtpMetrics>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const readers = endpoints.map(({ names, port }) =>
      names === "javascript"
        ? new PrometheusExporter({ host: loopback, port, preventServerStart: true })
        : new UnitSuffixedPrometheusExporter({ host: loopback, port, preventServerStart: true })
    )
    const meterProvider = new MeterProvider({ readers })
    yield* Effect.acquireRelease(
      Effect.promise(() => Promise.all(readers.map((reader) => reader.startServer()))),
      () => Effect.promise(() => meterProvider.shutdown())
    )
    return OtelSmtpMetrics.layer({ meterProvider, profile })
  })

/**
 * An application on the Effect `Metric` backend under `profile`, no
 * OpenTelemetry SDK: Effect's own Prometheus exporter serves Effect's
 * process-wide registry on `port` (with MailKit's names through
 * `SmtpPrometheus.metricNameMapper`), on `@effect/platform-node`'s HTTP server,
 * for the scope's lifetime.
 */
export const effectApplication = (
  profile: SmtpTelemetryProfile.Name,
  port: number
): Effect.Effect<Layer.Layer<SmtpMetrics>, never, Scope.Scope> =>
  Effect.as(
    Layer.build(
      HttpRouter.serve(PrometheusMetrics.layerHttp({ metricNameMapper: SmtpPrometheus.metricNameMapper }), {
        disableListenLog: true,
        disableLogger: true
      }).pipe(Layer.provide(NodeHttpServer.layer(createServer, { host: loopback, port })), Layer.orDie)
    ),
    SmtpMetrics.layerWith({ profile })
  )

/** The servers the mail goes to. */
export interface Servers {
  /** STARTTLS and AUTH: recipients starting with "reject" get 550. */
  readonly smtp: number
  /** Answers the end of a message after `slowMillis`. */
  readonly slow: number
  /** Closes the connection at MAIL. */
  readonly dropping: number
  /** Nothing listens there: connections are refused. */
  readonly closed: number
}

export const servers = (slowMillis: number): Effect.Effect<Servers, never, Scope.Scope> =>
  Effect.gen(function*() {
    const smtp = yield* smtpServer()
    const slow = yield* rawServer({ hostname: "slow.test", faults: { end: MisbehavingServer.delay(slowMillis) } })
    const dropping = yield* rawServer({ hostname: "dropping.test", faults: { mail: MisbehavingServer.close } })
    return { smtp: smtp.port, slow: slow.port, dropping: dropping.port, closed: yield* MisbehavingServer.closedPort }
  })

const message = {
  from: "app@example.com",
  to: ["rcpt@example.com"],
  content: "From: app@example.com\r\nTo: rcpt@example.com\r\nSubject: kit\r\n\r\nHello.\r\n"
}

/** What one send does. */
export type Send = "success" | "550" | "535" | "refused" | "dropped" | "slow"

/** One send of the given kind through `metrics`; its failure is the point, so it is kept as an Exit. */
export const send = (metrics: Layer.Layer<SmtpMetrics>, to: Servers, kind: Send) => {
  const secured: SmtpClient.Options = {
    host: loopback,
    port: to.smtp,
    security: "starttls",
    tls: trusted(),
    auth: alice(password)
  }
  const plain = (port: number): SmtpClient.Options => ({ host: loopback, port, security: "none" })
  const [options, mail] = kind === "success"
    ? [secured, message]
    : kind === "550"
    ? [secured, { ...message, to: ["reject-1@example.com"] }]
    : kind === "535"
    ? [{ ...secured, auth: alice("not the password") }, message]
    : kind === "refused"
    ? [plain(to.closed), message]
    : kind === "dropped"
    ? [plain(to.dropping), message]
    : [plain(to.slow), message]
  return Effect.exit(
    SmtpClient.send(mail).pipe(Effect.provide(NodeSmtp.layerWithMetrics(options)), Effect.provide(metrics))
  )
}

/** Every send of `kinds`, `concurrency` at a time. */
export const sendAll = (
  metrics: Layer.Layer<SmtpMetrics>,
  to: Servers,
  kinds: ReadonlyArray<Send>,
  concurrency = 4
) => Effect.forEach(kinds, (kind) => send(metrics, to, kind), { concurrency, discard: true })
