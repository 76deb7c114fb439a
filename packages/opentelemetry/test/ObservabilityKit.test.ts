/**
 * The observability kit against a real Prometheus: Debian's server, private
 * on loopback (scripts/services/prometheus.sh), scrapes applications that send
 * mail through effect-smtp with the Prometheus exporter, each profile twice:
 * an application with successes and every kind of failure (served with the
 * JavaScript exporter's names and, from a second reader, with the
 * unit-suffixed names a MailKit application exports) and one whose every send
 * fails; and the documented profile once more on the Effect `Metric` backend,
 * served by Effect's own Prometheus exporter (no OpenTelemetry SDK). Then every query of every dashboard panel and every alert expression
 * (read back from the server, which loaded observability/*\/alerts.yml) runs
 * through the HTTP API: each returns series, and the alerts fire for the
 * applications they should.
 */
import type { SmtpTelemetryProfile } from "@effect-smtp/client"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { application, effectApplication, type Send, sendAll, servers } from "./utils/mailTraffic.js"

const prometheus = process.env.EFFECT_SMTP_PROMETHEUS
const skipReason =
  "set EFFECT_SMTP_PROMETHEUS=http://127.0.0.1:2590 to run the observability kit against a real Prometheus: " +
  "run `scripts/services/prometheus.sh start` (it prints the line; .ci/run does this)"

const repository = Path.resolve(import.meta.dirname, "../../..")

interface Panel {
  readonly title: string
  readonly targets: ReadonlyArray<{ readonly refId: string; readonly expr: string }>
}

const dashboardOf = (profile: SmtpTelemetryProfile.Name): { readonly panels: ReadonlyArray<Panel> } =>
  JSON.parse(Fs.readFileSync(Path.join(repository, "observability", profile, "dashboard.json"), "utf8"))

/** Grafana's variables, as the dashboard would fill them. */
const substitute = (expr: string, job: string) => expr.replaceAll("$job", job).replaceAll("$__rate_interval", "1m")

interface Series {
  readonly metric: Readonly<Record<string, string>>
  readonly value: readonly [number, string]
}

const api = <A>(path: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const response = await fetch(`${prometheus}${path}`, init)
    // The admin API answers 204 and no body.
    if (response.status === 204) return undefined as A
    const body = await response.json() as { status: string; data: A; error?: string }
    if (body.status !== "success") throw new Error(`${path}: ${body.error ?? response.status}`)
    return body.data
  })

const query = (expr: string) =>
  Effect.map(
    api<{ resultType: string; result: ReadonlyArray<Series> }>(`/api/v1/query?query=${encodeURIComponent(expr)}`),
    (data) => data.result
  )

/** Polls `check` every 500 ms until it holds, for at most 30 s. */
const eventually = (what: string, check: Effect.Effect<boolean>) =>
  check.pipe(
    Effect.flatMap((ok) => ok ? Effect.void : Effect.fail(what)),
    Effect.retry(Schedule.spaced(Duration.millis(500)).pipe(Schedule.upTo({ duration: Duration.seconds(30) }))),
    Effect.orDie
  )

const jobs = ["effect-smtp-documented", "effect-smtp-shipped"]
const mixed: ReadonlyArray<Send> = ["success", "success", "success", "550", "535", "refused", "dropped"]
const failing: ReadonlyArray<Send> = ["550", "550", "refused"]

describe("the observability kit against Debian's Prometheus", () => {
  if (prometheus === undefined) {
    it.skip(skipReason, () => {})
    return
  }

  it.live(
    "every dashboard query and every alert expression returns series; the alerts fire where they should",
    () =>
      Effect.gen(function*() {
        // A clean slate: only this run's series count.
        const match = encodeURIComponent("{job=~\"effect-smtp.*\"}")
        yield* api(`/api/v1/admin/tsdb/delete_series?match[]=${match}`, { method: "POST" })
        yield* api("/api/v1/admin/tsdb/clean_tombstones", { method: "POST" })

        const to = yield* servers(6_000)
        const apps = {
          documented: {
            mixed: yield* application("documented", [
              { port: 2591, names: "javascript" },
              { port: 2596, names: "unit-suffixed" }
            ]),
            failing: yield* application("documented", [{ port: 2592, names: "javascript" }]),
            effect: yield* effectApplication("documented", 2595)
          },
          shipped: {
            mixed: yield* application("shipped", [
              { port: 2593, names: "javascript" },
              { port: 2597, names: "unit-suffixed" }
            ]),
            failing: yield* application("shipped", [{ port: 2594, names: "javascript" }])
          }
        }
        yield* eventually(
          "Prometheus scrapes all seven endpoints",
          Effect.map(query("up{job=~\"effect-smtp.*\"} == 1"), (up) => up.length === 7)
        )
        // Two rounds a few scrapes apart: a series is born in the first with its
        // value, so only what the second adds is a rate. Slow sends (6 s) in both,
        // so that p95 is over 5 s.
        const round = (slow: ReadonlyArray<Send>) =>
          Effect.all([
            ...(["documented", "shipped"] as const).flatMap((profile) => [
              sendAll(apps[profile].mixed, to, [...mixed, ...slow]),
              sendAll(apps[profile].failing, to, failing)
            ]),
            sendAll(apps.documented.effect, to, [...mixed, ...slow])
          ], { concurrency: "unbounded", discard: true })
        yield* round(["slow"])
        yield* Effect.sleep("3 seconds")
        yield* round(["slow", "slow"])
        yield* Effect.sleep("3 seconds")

        let checked = 0
        for (const profile of ["documented", "shipped"] as const) {
          for (const panel of dashboardOf(profile).panels) {
            for (const target of panel.targets) {
              // All of the profile's jobs, then the unit-suffixed one alone and (documented)
              // Effect's exporter alone: every naming path.
              const paths = profile === "documented" ? ["suffixed", "effect"] : ["suffixed"]
              for (
                const job of [
                  `effect-smtp-${profile}.*`,
                  ...paths.map((path) => `effect-smtp-${profile}-${path}`)
                ]
              ) {
                const result = yield* query(substitute(target.expr, job))
                expect(result.length, `${profile} "${panel.title}" ${target.refId} (job=~${job}) returns series`)
                  .toBeGreaterThan(0)
                checked++
              }
            }
          }
        }

        const groups = yield* api<{
          groups: ReadonlyArray<{ name: string; rules: ReadonlyArray<{ type: string; name: string; query: string }> }>
        }>("/api/v1/rules")
        const alerts = groups.groups.flatMap((group) =>
          group.rules.filter((rule) => rule.type === "alerting").map((rule) => ({ group: group.name, ...rule }))
        )
        expect(alerts.map((a) => `${a.group}/${a.name}`).sort()).toStrictEqual(
          ["effect-smtp-documented", "effect-smtp-shipped"].flatMap((group) =>
            ["SmtpConnectFailures", "SmtpNothingSent", "SmtpSendFailureRatioHigh", "SmtpSendLatencyHigh"].map((name) =>
              `${group}/${name}`
            )
          ).sort()
        )
        const firing: Record<string, Array<string>> = {}
        for (const alert of alerts) {
          const result = yield* query(alert.query)
          expect(result.length, `${alert.group} ${alert.name} returns series`).toBeGreaterThan(0)
          firing[`${alert.group}/${alert.name}`] = result.map((s) =>
            [s.metric.job, s.metric.instance, s.metric.error_type].filter((x) => x !== undefined).join(" ")
          ).sort()
          checked++
        }
        // Who each alert fires for: the failing application has sent nothing; the
        // connect failures are refusals, named as each profile names them.
        for (const profile of ["documented", "shipped"] as const) {
          const job = `effect-smtp-${profile}`
          const group = `effect-smtp-${profile}`
          expect(firing[`${group}/SmtpNothingSent`]).toContain(
            `${job} 127.0.0.1:${profile === "documented" ? 2592 : 2594}`
          )
          expect(firing[`${group}/SmtpNothingSent`]).not.toContain(
            `${job} 127.0.0.1:${profile === "documented" ? 2591 : 2593}`
          )
          expect(firing[`${group}/SmtpConnectFailures`]).toContain(
            `${job} ${profile === "documented" ? "SocketError" : "connection_refused"}`
          )
          expect(firing[`${group}/SmtpSendFailureRatioHigh`]).toContain(job)
          expect(firing[`${group}/SmtpSendLatencyHigh`]).toContain(job)
        }
        expect(jobs.every((job) => Object.values(firing).flat().some((line) => line.startsWith(job)))).toBe(true)
        if (process.env.KIT_DUMP) console.log(`${checked} queries returned series\n${JSON.stringify(firing, null, 2)}`)
      }),
    120_000
  )
})
