// Renders the main panels of each profile's dashboard (observability/<profile>/dashboard.json)
// from real data to docs/telemetry-<profile>.png: a few minutes of mail sent through
// effect-smtp (packages/opentelemetry/test/utils/pictureTraffic.ts), scraped by the
// private Prometheus of scripts/services/prometheus.sh, each panel's queries run
// through Prometheus's query_range API and drawn as SVG charts, the page
// photographed by Debian's headless Chromium. Not part of CI.
//
//   node scripts/telemetry-picture.mjs [seconds per traffic phase, default 60]
//
// Needs: Debian's prometheus and chromium (apt-get install prometheus chromium), pnpm install.
import { execFileSync, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")
const phaseSeconds = Number(process.argv[2] ?? 60)
const panelsShown = [
  "Sends per second by outcome",
  "Connect failures per second by error.type",
  "Send failures per second by error.type and status code",
  "Send failures per second by error.type (a refused command's status code)",
  "Send latency p50 / p95 / p99",
  "Connect latency p50 / p95 / p99",
  "Connection lifetime p50 / p95 / p99"
]

const prometheus = (() => {
  if (process.env.EFFECT_SMTP_PROMETHEUS) return process.env.EFFECT_SMTP_PROMETHEUS
  const out = execFileSync(Path.join(root, "scripts/services/prometheus.sh"), ["start"], { encoding: "utf8" })
  return /EFFECT_SMTP_PROMETHEUS=(\S+)/.exec(out)[1]
})()

const api = async (path, init) => {
  const response = await fetch(`${prometheus}${path}`, init)
  if (response.status === 204) return undefined
  const body = await response.json()
  if (body.status !== "success") throw new Error(`${path}: ${body.error}`)
  return body.data
}

// Only this run's data.
await api(`/api/v1/admin/tsdb/delete_series?match[]=${encodeURIComponent('{job=~"effect-smtp.*"}')}`, {
  method: "POST"
})
const start = Date.now() / 1000
console.log(`sending mail for ${3 * phaseSeconds} s (three phases), scraped by ${prometheus}`)
const traffic = spawnSync(
  "pnpm",
  ["--filter", "@effect-smtp/opentelemetry", "exec", "tsx", "test/utils/pictureTraffic.ts", String(phaseSeconds)],
  { cwd: root, stdio: "inherit" }
)
if (traffic.status !== 0) throw new Error("the traffic generator failed")
const end = Date.now() / 1000

const palette = ["#73bf69", "#f2495c", "#5794f2", "#ff9830", "#b877d9", "#fade2a", "#8ab8ff", "#ff7383"]
const escape = (text) => text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c])
const legendOf = (format, metric) => format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, key) => metric[key] ?? "").trim()

const formatValue = (value, unit) => {
  if (unit === "ms") return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`
  if (unit === "s") return value >= 1 ? `${value.toFixed(1)} s` : `${Math.round(value * 1000)} ms`
  if (unit === "ops") return `${value.toFixed(value >= 10 ? 0 : value >= 1 ? 1 : 2)}/s`
  return value.toFixed(2)
}

/** One panel as an SVG line chart: its series over [start, end]. */
const chart = (title, unit, series) => {
  const width = 760
  const height = 300
  const left = 70
  const right = 10
  const top = 36
  const bottom = 26
  const max = Math.max(1e-9, ...series.flatMap((s) => s.points.map(([, v]) => v))) * 1.1
  const x = (t) => left + ((t - start) / (end - start)) * (width - left - right)
  const y = (v) => top + (1 - v / max) * (height - top - bottom)
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = max * f
    return `<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" class="grid"/>` +
      `<text x="${left - 6}" y="${y(v) + 4}" class="axis" text-anchor="end">${formatValue(v, unit)}</text>`
  })
  const ticks = Array.from({ length: 7 }, (_, i) => start + (i * (end - start)) / 6).map((t) => {
    const seconds = Math.round(t - start)
    return `<text x="${x(t)}" y="${height - 8}" class="axis" text-anchor="middle">${Math.floor(seconds / 60)}:${
      String(seconds % 60).padStart(2, "0")
    }</text>`
  })
  const lines = series.map((s, i) => {
    const path = s.points.map(([t, v], j) => `${j === 0 ? "M" : "L"}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ")
    return `<path d="${path}" stroke="${palette[i % palette.length]}" class="line"/>`
  })
  const legend = series.map((s, i) =>
    `<span class="key"><i style="background:${palette[i % palette.length]}"></i>${escape(s.name)}</span>`
  )
  return `<div class="panel"><div class="title">${escape(title)}</div><svg width="${width}" height="${height}">${
    grid.join("")
  }${ticks.join("")}${lines.join("")}</svg><div class="legend">${legend.join("")}</div></div>`
}

const render = async (profile) => {
  const dashboard = JSON.parse(Fs.readFileSync(Path.join(root, "observability", profile, "dashboard.json"), "utf8"))
  const panels = dashboard.panels.filter((p) => p.type === "timeseries" && panelsShown.includes(p.title)).slice(0, 6)
  const charts = []
  for (const panel of panels) {
    const series = []
    for (const target of panel.targets) {
      const expr = target.expr.replaceAll("$job", `effect-smtp-${profile}`).replaceAll("$__rate_interval", "20s")
      const data = await api(
        `/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${start}&end=${end}&step=2`
      )
      for (const result of data.result) {
        series.push({
          name: legendOf(target.legendFormat ?? "", result.metric) || target.refId,
          points: result.values.map(([t, v]) => [t, Number(v)]).filter(([, v]) => Number.isFinite(v))
        })
      }
    }
    charts.push(chart(panel.title, panel.fieldConfig.defaults.unit, series))
  }
  const html = `<!doctype html><meta charset="utf-8"><style>
body{margin:0;padding:16px;background:#111217;color:#ccccdc;font:13px "DejaVu Sans",sans-serif}
h1{font-size:18px;margin:0 0 4px}p{margin:0 0 12px;color:#8e8e9e}
.grid-2{display:grid;grid-template-columns:repeat(2,780px);gap:12px}
.panel{background:#181b1f;border:1px solid #2c3235;border-radius:4px;padding:8px 10px}
.title{font-weight:bold;margin-bottom:2px}.grid{stroke:#2c3235}.axis{fill:#8e8e9e;font-size:11px}
.line{fill:none;stroke-width:1.6}.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px}
.key i{display:inline-block;width:14px;height:4px;margin:0 5px 2px 0;vertical-align:middle}
</style><h1>${escape(dashboard.title)}</h1>
<p>observability/${profile}/dashboard.json, drawn from Prometheus after ${
    Math.round(end - start)
  } s of mail through effect-smtp: normal traffic, an outage (refused connections, rejected credentials, dropped connections), a slow recovery.</p>
<div class="grid-2">${charts.join("")}</div>`
  const page = Path.join(Os.tmpdir(), `effect-smtp-${profile}.html`)
  Fs.writeFileSync(page, html)
  const out = Path.join(root, "docs", `telemetry-${profile}.png`)
  const profileDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-smtp-chromium-"))
  const rows = Math.ceil(charts.length / 2)
  execFileSync("chromium", [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--user-data-dir=${profileDir}`,
    "--hide-scrollbars",
    `--window-size=1612,${90 + rows * 372}`,
    `--screenshot=${out}`,
    `file://${page}`
    // Chromium's stderr is D-Bus noise on a machine without a session bus.
  ], { stdio: ["ignore", "inherit", "ignore"] })
  Fs.rmSync(profileDir, { recursive: true, force: true })
  console.log(`wrote ${Path.relative(root, out)}`)
}

for (const profile of ["documented", "shipped"]) await render(profile)
