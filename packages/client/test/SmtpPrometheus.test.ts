import { SmtpInstruments, SmtpMetrics, SmtpPrometheus, type SmtpTelemetryProfile } from "@effect-smtp/client"
import { fc, prop } from "@effect-smtp/test-utils/property"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { PrometheusMetrics } from "effect/observability"

/** What .NET's Prometheus exporter prints for a MailKit application's instruments (docs/telemetry.md). */
const mailkit: Readonly<Record<string, string>> = {
  "mailkit.net.socket.connect.count": "mailkit_net_socket_connect_count_total",
  "mailkit.net.socket.connect.duration": "mailkit_net_socket_connect_duration_milliseconds",
  "mailkit.net.smtp.client.connect.count": "mailkit_net_smtp_client_connect_count_total",
  "mailkit.net.smtp.client.connect.duration": "mailkit_net_smtp_client_connect_duration_milliseconds",
  "mailkit.net.smtp.client.connection.duration": "mailkit_net_smtp_client_connection_duration_seconds",
  "mailkit.net.smtp.client.send.count": "mailkit_net_smtp_client_send_count_total",
  "mailkit.net.smtp.client.send.duration": "mailkit_net_smtp_client_send_duration_milliseconds",
  "mailkit.net.smtp.client.operation.count": "mailkit_net_smtp_client_operation_count_total",
  "mailkit.net.smtp.client.operation.duration": "mailkit_net_smtp_client_operation_duration_milliseconds"
}

describe("SmtpPrometheus", () => {
  it("maps every instrument of both profiles to the name a MailKit application exports", () => {
    const names = new Set([...SmtpInstruments.all, ...SmtpInstruments.shipped].map((i) => i.name))
    expect([...names].sort()).toEqual(Object.keys(mailkit).sort())
    for (const name of names) expect(SmtpPrometheus.metricNameMapper(name)).toBe(mailkit[name])
  })

  prop(
    "identity: a metric that is no instrument keeps its name",
    [fc.string().filter((name) => mailkit[name] === undefined)],
    ([name]) => SmtpPrometheus.metricNameMapper(name) === name
  )

  it("units: words for the abbreviations, nothing for annotations", () => {
    expect(SmtpPrometheus.unitSuffix("ms")).toBe("milliseconds")
    expect(SmtpPrometheus.unitSuffix("s")).toBe("seconds")
    expect(SmtpPrometheus.unitSuffix("{operation}")).toBe("")
    expect(SmtpPrometheus.unitSuffix("By/s")).toBe("bytes_per_second")
    expect(SmtpPrometheus.withUnit("x.duration_seconds", "s")).toBe("x.duration_seconds")
  })

  for (const profile of ["documented", "shipped"] as ReadonlyArray<SmtpTelemetryProfile.Name>) {
    it.effect(`Effect's exporter with the mapper prints MailKit's names (${profile} profile)`, () =>
      Effect.gen(function*() {
        const metrics = yield* SmtpMetrics
        const facts = {
          serverAddress: "smtp.example.com",
          serverPort: 587,
          peerAddress: "192.0.2.1",
          scheme: "smtp" as const
        }
        yield* metrics.socketConnect({
          serverAddress: facts.serverAddress,
          serverPort: facts.serverPort,
          peerAddress: facts.peerAddress,
          outcome: { _tag: "Success" },
          durationMs: 2
        })
        yield* metrics.clientConnect({ ...facts, outcome: { _tag: "Success" }, durationMs: 12, transportSeconds: 0.01 })
        yield* metrics.messageSend({ ...facts, outcome: { _tag: "Success" }, durationMs: 3 })
        yield* metrics.connectionEnd({
          ...facts,
          outcome: { _tag: "Success" },
          durationSeconds: 1,
          transportSeconds: 1
        })
        const page = yield* PrometheusMetrics.format({ metricNameMapper: SmtpPrometheus.metricNameMapper })
        const families = [...page.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => `${name} ${type}`)
        const expected = (profile === "documented" ? SmtpInstruments.all : SmtpInstruments.shipped)
          .map((i) => `${mailkit[i.name]} ${i.kind}`)
        expect(families.sort()).toEqual(expected.sort())
        expect(page).toMatch(/_milliseconds_bucket\{/)
      }).pipe(
        Effect.provide(SmtpMetrics.layerWith({ profile })),
        // A registry of this test's own: Effect's default is process-wide.
        Effect.provide(Layer.succeed(Metric.MetricRegistry, new Map()))
      ))
  }
})
