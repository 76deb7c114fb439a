/**
 * Prometheus naming, measured. One MeterProvider with two readers per
 * profile: `@opentelemetry/exporter-prometheus` as it is (127.0.0.1:2598) and
 * the same exporter whose collection goes through
 * `PrometheusNaming.withUnitSuffixes` (127.0.0.1:2599). Real sends (success,
 * 550, 535, a refused connection) through the real client, then both
 * `/metrics` pages fetched over HTTP and compared with the names a MailKit
 * application exports through .NET's Prometheus exporter or the OpenTelemetry
 * Collector, which follow the compatibility spec (the unit as a word before
 * the type suffix). The JavaScript exporter's histogram names lack the unit;
 * its counters match; with `withUnitSuffixes` every name matches, and the
 * label sets and values are those of the plain exporter.
 *
 * `NAMING_DUMP=1` prints the names each path produced.
 */
import { SmtpClient, SmtpInstruments, type SmtpTelemetryProfile } from "@effect-smtp/client"
import { NodeSmtp } from "@effect-smtp/node"
import { MisbehavingServer } from "@effect-smtp/testing/node"
import { describe, expect, it } from "@effect/vitest"
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus"
import { MeterProvider } from "@opentelemetry/sdk-metrics"
import * as Effect from "effect/Effect"
import { OtelSmtpMetrics, PrometheusNaming } from "../src/index.js"
import { loopback, mail } from "./utils/conformance.js"
import { UnitSuffixedPrometheusExporter } from "./utils/mailTraffic.js"
import { alice, password, smtpServer, trusted } from "./utils/servers.js"

const histogram = (name: string) => [`${name}_bucket`, `${name}_count`, `${name}_sum`]

/** What the JavaScript exporter printed (measured here: this test fails if it changes). */
const javascriptNames: Record<SmtpTelemetryProfile.Name, ReadonlyArray<string>> = {
  documented: [
    "mailkit_net_socket_connect_count_total",
    ...histogram("mailkit_net_socket_connect_duration"),
    "mailkit_net_smtp_client_connect_count_total",
    ...histogram("mailkit_net_smtp_client_connect_duration"),
    ...histogram("mailkit_net_smtp_client_connection_duration"),
    "mailkit_net_smtp_client_send_count_total",
    ...histogram("mailkit_net_smtp_client_send_duration")
  ],
  shipped: [
    "mailkit_net_socket_connect_count_total",
    ...histogram("mailkit_net_socket_connect_duration"),
    ...histogram("mailkit_net_smtp_client_connection_duration"),
    "mailkit_net_smtp_client_operation_count_total",
    ...histogram("mailkit_net_smtp_client_operation_duration")
  ]
}

/**
 * What a MailKit application's series are called through .NET's exporter or
 * the Collector (mailkit-shipped.md's "Prometheus names"; the documented
 * profile's instruments by the same rule): `{...}` units dropped, `ms` as
 * `milliseconds`, `s` as `seconds`.
 */
const mailKitNames: Record<SmtpTelemetryProfile.Name, ReadonlyArray<string>> = {
  documented: [
    "mailkit_net_socket_connect_count_total",
    ...histogram("mailkit_net_socket_connect_duration_milliseconds"),
    "mailkit_net_smtp_client_connect_count_total",
    ...histogram("mailkit_net_smtp_client_connect_duration_milliseconds"),
    ...histogram("mailkit_net_smtp_client_connection_duration_seconds"),
    "mailkit_net_smtp_client_send_count_total",
    ...histogram("mailkit_net_smtp_client_send_duration_milliseconds")
  ],
  shipped: [
    "mailkit_net_socket_connect_count_total",
    ...histogram("mailkit_net_socket_connect_duration_milliseconds"),
    ...histogram("mailkit_net_smtp_client_connection_duration_seconds"),
    "mailkit_net_smtp_client_operation_count_total",
    ...histogram("mailkit_net_smtp_client_operation_duration_milliseconds")
  ]
}

interface Sample {
  readonly name: string
  readonly labels: string
  readonly value: string
}

/** The samples of a /metrics page, without the exporter's own target_info. */
const samplesOf = (page: string): ReadonlyArray<Sample> =>
  page.split("\n").filter((line) => line !== "" && !line.startsWith("#")).map((line) => {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)/.exec(line)
    if (match === null) throw new Error(`not a Prometheus sample: ${line}`)
    return { name: match[1]!, labels: match[2] ?? "", value: match[3]! }
  }).filter((sample) => sample.name !== "target_info")

const namesOf = (samples: ReadonlyArray<Sample>) => [...new Set(samples.map((s) => s.name))].sort()

const fetchText = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    expect(response.status, url).toBe(200)
    return response.text()
  })

/** Sends a success, a 550, a 535 and a refused connection under `profile`; returns both pages. */
const measure = (profile: SmtpTelemetryProfile.Name) =>
  Effect.gen(function*() {
    const plain = new PrometheusExporter({ host: loopback, port: 2598, preventServerStart: true })
    const suffixed = new UnitSuffixedPrometheusExporter({ host: loopback, port: 2599, preventServerStart: true })
    const meterProvider = new MeterProvider({ readers: [plain, suffixed] })
    yield* Effect.acquireRelease(
      Effect.promise(() => Promise.all([plain.startServer(), suffixed.startServer()])),
      () => Effect.promise(() => meterProvider.shutdown())
    )
    const server = yield* smtpServer()
    const closed = yield* MisbehavingServer.closedPort
    const metrics = OtelSmtpMetrics.layer({ meterProvider, profile })
    const send = (options: SmtpClient.Options, to = mail.to) =>
      Effect.exit(
        SmtpClient.send({ ...mail, to }).pipe(
          Effect.provide(NodeSmtp.layerWithMetrics(options)),
          Effect.provide(metrics)
        )
      )
    const secured = {
      host: loopback,
      port: server.port,
      security: "starttls" as const,
      tls: trusted()
    }
    yield* send({ ...secured, auth: alice(password) })
    yield* send({ ...secured, auth: alice(password) }, ["reject-1@example.com"])
    yield* send({ ...secured, auth: alice("wrong") })
    yield* send({ host: loopback, port: closed, security: "none" })
    const pages = yield* Effect.all([
      fetchText(`http://${loopback}:2598/metrics`),
      fetchText(`http://${loopback}:2599/metrics`)
    ])
    return { plain: samplesOf(pages[0]), suffixed: samplesOf(pages[1]) }
  })

describe("Prometheus names of each export path", () => {
  for (const profile of ["documented", "shipped"] as const) {
    it.live(`${profile}: the JavaScript exporter drops the unit from histogram names, withUnitSuffixes gives a MailKit application's names with the same series`, () =>
      Effect.gen(function*() {
        const { plain, suffixed } = yield* measure(profile)
        if (process.env.NAMING_DUMP) {
          console.log(`--- ${profile}\nJavaScript exporter:\n  ${namesOf(plain).join("\n  ")}`)
          console.log(`withUnitSuffixes (= .NET exporter / Collector):\n  ${namesOf(suffixed).join("\n  ")}`)
        }
        expect(namesOf(plain)).toStrictEqual([...javascriptNames[profile]].sort())
        expect(namesOf(suffixed)).toStrictEqual([...mailKitNames[profile]].sort())
        // Counters are named alike on both paths; every histogram differs by its unit.
        const same = namesOf(plain).filter((name) => mailKitNames[profile].includes(name))
        expect(same).toStrictEqual(namesOf(plain).filter((name) => name.endsWith("_total")))
        // Only the names differ: the same series, labels and values.
        const renamed = (name: string) => mailKitNames[profile][javascriptNames[profile].indexOf(name)]
        const series = (samples: ReadonlyArray<Sample>) => samples.map((s) => `${s.name}${s.labels} ${s.value}`).sort()
        expect(series(plain.map((s) => ({ ...s, name: renamed(s.name)! })))).toStrictEqual(series(suffixed))
      }))
  }
})

describe("PrometheusNaming", () => {
  it("unitSuffix: the spec's words for the units, nothing for annotations and 1", () => {
    expect(
      ["ms", "s", "{attempt}", "{operation}", "1", "By", "KiBy", "By/s", "{packet}/s", "min", "%"].map(
        PrometheusNaming.unitSuffix
      )
    ).toStrictEqual([
      "milliseconds",
      "seconds",
      "",
      "",
      "",
      "bytes",
      "kibibytes",
      "bytes_per_second",
      "per_second",
      "minutes",
      "percent"
    ])
  })

  it("prometheusName of every instrument of both profiles is the name a MailKit application's series carry", () => {
    const base = (names: ReadonlyArray<string>) =>
      [...new Set(names.map((name) => name.replace(/_(bucket|sum|count)$/, "")))].sort()
    for (
      const [instruments, expected] of [
        [SmtpInstruments.all, mailKitNames.documented],
        [SmtpInstruments.shipped, mailKitNames.shipped]
      ] as const
    ) {
      expect(
        [...new Set(instruments.map((i) => PrometheusNaming.prometheusName(i.name, i.unit, i.kind === "counter")))]
          .sort()
      ).toStrictEqual(base(expected))
    }
  })

  it("withUnit never doubles a unit already in the name", () => {
    expect(PrometheusNaming.withUnit("http.server.duration_seconds", "s")).toBe("http.server.duration_seconds")
    expect(PrometheusNaming.withUnit("http.server.duration", "s")).toBe("http.server.duration_seconds")
  })
})
