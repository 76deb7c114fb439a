// Writes the observability kit of each telemetry profile from one description:
// observability/<profile>/dashboard.json (Grafana) and observability/<profile>/alerts.yml
// (Prometheus alerting rules). The promtool unit tests beside them
// (alerts.test.yml) are written by hand.
//
//   node scripts/observability-kit.mjs           rewrite the files
//   node scripts/observability-kit.mjs --check   exit 1 when a committed file differs (CI)
//
// Every query matches the series names of both Prometheus export paths: the
// JavaScript @opentelemetry/exporter-prometheus names a histogram without its
// unit (..._duration_bucket); OTLP through the Collector or Prometheus's own
// OTLP receiver, and .NET's exporter, add it (..._duration_milliseconds_bucket,
// ..._duration_seconds_bucket). Counters are named alike on both
// (..._count_total). See docs/telemetry.md.
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..")

/**
 * A selector: `name{matchers}`, or `{__name__=~"name", matchers}` when the
 * name is a pattern. The dashboards' selectors also match the `$job` variable.
 */
const selector = (dashboard) => (name, ...given) => {
  const matchers = dashboard ? ['job=~"$job"', ...given] : given
  if (/[()?|]/.test(name)) return `{${[`__name__=~"${name}"`, ...matchers].join(", ")}}`
  return matchers.length === 0 ? name : `${name}{${matchers.join(", ")}}`
}

const ms = "(_milliseconds)?"
const s = "(_seconds)?"

/** The names (and matchers) of each profile, for dashboards or for alerting rules. */
const profilesFor = (sel) => ({
  documented: {
    title: "SMTP sending: MailKit's documented telemetry (effect-smtp default profile)",
    description:
      "effect-smtp's default profile: the seven instruments of MailKit's telemetry documentation (mailkit.net.smtp.client.send.*, .connect.*, .connection.duration, mailkit.net.socket.connect.*).",
    // What identifies a job that exports this profile.
    jobMetric: "mailkit_net_smtp_client_send_count_total",
    send: (...m) => sel("mailkit_net_smtp_client_send_count_total", ...m),
    sendBucket: (...m) => sel(`mailkit_net_smtp_client_send_duration${ms}_bucket`, ...m),
    connect: (...m) => sel("mailkit_net_smtp_client_connect_count_total", ...m),
    connectBucket: (...m) => sel(`mailkit_net_smtp_client_connect_duration${ms}_bucket`, ...m),
    authenticate: undefined,
    connection: (suffix, ...m) => sel(`mailkit_net_smtp_client_connection_duration${s}_${suffix}`, ...m),
    socket: (...m) => sel("mailkit_net_socket_connect_count_total", ...m),
    socketBucket: (...m) => sel(`mailkit_net_socket_connect_duration${ms}_bucket`, ...m),
    // A failure's labels: error.type, and the reply code where there was one.
    failureTitle: "Send failures per second by error.type and status code",
    failureBy: "error_type, smtp_status_code",
    failureLegend: "{{error_type}} {{smtp_status_code}}",
    connectFailureBy: "error_type, socket_error",
    connectFailureLegend: "{{error_type}} {{socket_error}}"
  },
  shipped: {
    title: "SMTP sending: MailKit 4.7+ shipped telemetry (effect-smtp \"shipped\" profile)",
    description:
      "What MailKit 4.7 to 4.17 emit, and effect-smtp's \"shipped\" profile: mailkit.net.smtp.client.operation.* by network.operation, .connection.duration, mailkit.net.socket.connect.*.",
    jobMetric: "mailkit_net_smtp_client_operation_count_total",
    send: (...m) => sel("mailkit_net_smtp_client_operation_count_total", 'network_operation="send"', ...m),
    sendBucket: (...m) =>
      sel(`mailkit_net_smtp_client_operation_duration${ms}_bucket`, 'network_operation="send"', ...m),
    connect: (...m) => sel("mailkit_net_smtp_client_operation_count_total", 'network_operation="connect"', ...m),
    connectBucket: (...m) =>
      sel(`mailkit_net_smtp_client_operation_duration${ms}_bucket`, 'network_operation="connect"', ...m),
    authenticate: (...m) =>
      sel("mailkit_net_smtp_client_operation_count_total", 'network_operation="authenticate"', ...m),
    connection: (suffix, ...m) => sel(`mailkit_net_smtp_client_connection_duration${s}_${suffix}`, ...m),
    socket: (...m) => sel("mailkit_net_socket_connect_count_total", ...m),
    socketBucket: (...m) => sel(`mailkit_net_socket_connect_duration${ms}_bucket`, ...m),
    // The shipped error.type of a refused command is its status code ("550").
    failureTitle: "Send failures per second by error.type (a refused command's status code)",
    failureBy: "error_type",
    failureLegend: "{{error_type}}",
    connectFailureBy: "error_type",
    connectFailureLegend: "{{error_type}}"
  }
})
const profiles = profilesFor(selector(true))
const ruleProfiles = profilesFor(selector(false))

const failed = 'error_type!=""'
const succeeded = 'error_type=""'
const window = "$__rate_interval"

const quantiles = (bucket) =>
  [0.5, 0.95, 0.99].map((q, i) => ({
    refId: String.fromCharCode(65 + i),
    expr: `histogram_quantile(${q}, sum by (le) (rate(${bucket}[${window}])))`,
    legendFormat: `p${Math.round(q * 100)}`
  }))

/** The panels of a profile's dashboard, top to bottom, left to right. */
const panelsOf = (p) => {
  const stats = [
    {
      type: "stat",
      title: "Send success ratio",
      description: "Messages accepted for at least one recipient, out of all sends.",
      unit: "percentunit",
      thresholds: [["red", null], ["orange", 0.95], ["green", 0.99]],
      targets: [{
        expr: `sum(rate(${p.send(succeeded)}[${window}])) / sum(rate(${p.send()}[${window}]))`,
        legendFormat: "success"
      }]
    },
    {
      type: "stat",
      title: "Messages sent, last 30 minutes",
      description: "Red at zero: no message sent in 30 minutes.",
      unit: "short",
      thresholds: [["red", null], ["green", 1]],
      targets: [{ expr: `sum(increase(${p.send(succeeded)}[30m]))`, legendFormat: "sent" }]
    },
    {
      type: "stat",
      title: "Send failures, last 30 minutes",
      unit: "short",
      thresholds: [["green", null], ["red", 1]],
      targets: [{ expr: `sum(increase(${p.send(failed)}[30m]))`, legendFormat: "failed" }]
    },
    {
      type: "stat",
      title: "Connect failures, last 30 minutes",
      unit: "short",
      thresholds: [["green", null], ["red", 1]],
      targets: [{ expr: `sum(increase(${p.connect(failed)}[30m]))`, legendFormat: "failed" }]
    }
  ]
  const series = [
    {
      title: "Sends per second by outcome",
      unit: "ops",
      targets: [
        { expr: `sum(rate(${p.send(succeeded)}[${window}]))`, legendFormat: "sent" },
        { expr: `sum by (error_type) (rate(${p.send(failed)}[${window}]))`, legendFormat: "failed: {{error_type}}" }
      ]
    },
    {
      title: p.failureTitle,
      unit: "ops",
      targets: [{
        expr: `sum by (${p.failureBy}) (rate(${p.send(failed)}[${window}]))`,
        legendFormat: p.failureLegend
      }]
    },
    {
      title: "Connect failures per second by error.type",
      description: "Client connects (DNS to the last EHLO) and single TCP attempts.",
      unit: "ops",
      targets: [
        {
          expr: `sum by (${p.connectFailureBy}) (rate(${p.connect(failed)}[${window}]))`,
          legendFormat: `connect: ${p.connectFailureLegend}`
        },
        {
          expr: `sum by (${p.connectFailureBy}) (rate(${p.socket(failed)}[${window}]))`,
          legendFormat: `TCP attempt: ${p.connectFailureLegend}`
        }
      ]
    },
    {
      title: "Send latency p50 / p95 / p99",
      unit: "ms",
      targets: quantiles(p.sendBucket())
    },
    {
      title: "Connect latency p50 / p95 / p99",
      unit: "ms",
      targets: quantiles(p.connectBucket())
    },
    {
      title: "Connection lifetime p50 / p95 / p99",
      unit: "s",
      targets: quantiles(p.connection("bucket"))
    },
    {
      title: "Connections ended involuntarily per second by error.type",
      unit: "ops",
      targets: [{
        expr: `sum by (error_type) (rate(${p.connection("count", failed)}[${window}]))`,
        legendFormat: "{{error_type}}"
      }]
    },
    {
      title: "TCP connect latency p95 by peer",
      unit: "ms",
      targets: [{
        expr: `histogram_quantile(0.95, sum by (le, network_peer_address) (rate(${p.socketBucket()}[${window}])))`,
        legendFormat: "{{network_peer_address}}"
      }]
    },
    ...(p.authenticate === undefined ? [] : [{
      title: "Authentication failures per second by error.type",
      unit: "ops",
      targets: [{
        expr: `sum by (error_type) (rate(${p.authenticate(failed)}[${window}]))`,
        legendFormat: "{{error_type}}"
      }]
    }])
  ]
  const datasource = { type: "prometheus", uid: "${datasource}" }
  const withIds = (targets) => targets.map((t, i) => ({ datasource, refId: String.fromCharCode(65 + i), ...t }))
  return [
    ...stats.map((panel, i) => ({
      id: i + 1,
      type: "stat",
      title: panel.title,
      ...(panel.description ? { description: panel.description } : {}),
      datasource,
      gridPos: { h: 4, w: 6, x: i * 6, y: 0 },
      fieldConfig: {
        defaults: {
          unit: panel.unit,
          thresholds: { mode: "absolute", steps: panel.thresholds.map(([color, value]) => ({ color, value })) }
        },
        overrides: []
      },
      options: {
        reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
        colorMode: "background",
        graphMode: "none",
        textMode: "value"
      },
      targets: withIds(panel.targets)
    })),
    ...series.map((panel, i) => ({
      id: stats.length + i + 1,
      type: "timeseries",
      title: panel.title,
      ...(panel.description ? { description: panel.description } : {}),
      datasource,
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: 4 + Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: panel.unit, custom: { lineWidth: 1, fillOpacity: 10 } }, overrides: [] },
      options: {
        legend: { displayMode: "list", placement: "bottom", showLegend: true },
        tooltip: { mode: "multi", sort: "desc" }
      },
      targets: withIds(panel.targets)
    }))
  ]
}

const dashboardOf = (name, p) => ({
  annotations: { list: [] },
  description: p.description,
  editable: true,
  graphTooltip: 1,
  links: [],
  panels: panelsOf(p),
  refresh: "1m",
  schemaVersion: 39,
  tags: ["smtp", "mailkit", "effect-smtp", name],
  templating: {
    list: [
      { name: "datasource", label: "Prometheus", type: "datasource", query: "prometheus", current: {} },
      {
        name: "job",
        label: "Job",
        type: "query",
        datasource: { type: "prometheus", uid: "${datasource}" },
        query: { query: `label_values(${p.jobMetric}, job)`, refId: "job" },
        definition: `label_values(${p.jobMetric}, job)`,
        refresh: 2,
        multi: true,
        includeAll: true,
        allValue: ".+",
        current: {}
      }
    ]
  },
  time: { from: "now-6h", to: "now" },
  timezone: "",
  title: p.title,
  uid: `effect-smtp-${name}`,
  version: 1
})

/** The alerting rules, as YAML text (a fixed shape: no YAML library needed). */
const alertsOf = (name, p) => {
  const rules = [
    {
      alert: "SmtpSendFailureRatioHigh",
      expr: `sum by (job) (rate(${p.send(failed)}[10m]))\n  / sum by (job) (rate(${p.send()}[10m])) > 0.05`,
      for: "10m",
      severity: "warning",
      summary: "More than 5% of SMTP sends fail ({{ $labels.job }})",
      description: "{{ $value | humanizePercentage }} of the messages {{ $labels.job }} sent in the last 10 minutes failed."
    },
    {
      alert: "SmtpConnectFailures",
      expr: `sum by (job, error_type) (increase(${p.connect(failed)}[5m])) > 0`,
      for: "5m",
      severity: "warning",
      summary: "SMTP connects failing with {{ $labels.error_type }} ({{ $labels.job }})",
      description: "{{ $labels.job }} failed to connect to its SMTP server ({{ $labels.error_type }}) for 5 minutes."
    },
    {
      alert: "SmtpSendLatencyHigh",
      expr: `histogram_quantile(0.95, sum by (job, le) (rate(${p.sendBucket()}[10m]))) > 5000`,
      for: "15m",
      severity: "warning",
      summary: "SMTP sends are slow ({{ $labels.job }})",
      description: "The 95th percentile of {{ $labels.job }}'s send time is {{ $value | humanize }} ms."
    },
    {
      alert: "SmtpNothingSent",
      expr: `(\n  sum by (job, instance) (increase(${p.send(succeeded)}[30m]))\n  or\n  sum by (job, instance) (increase(${p.send()}[30m])) * 0\n) == 0`,
      for: "5m",
      severity: "critical",
      summary: "No message sent in 30 minutes ({{ $labels.job }} {{ $labels.instance }})",
      description: "{{ $labels.instance }} has sent no message successfully in the last 30 minutes."
    }
  ]
  const indent = (text, spaces) => text.split("\n").map((line) => " ".repeat(spaces) + line).join("\n")
  const quote = (text) => JSON.stringify(text)
  return [
    `# Generated by scripts/observability-kit.mjs from one description of the ${name} profile; edit that, not this.`,
    "# Every histogram selector matches both export paths' names (with and without the unit suffix).",
    "groups:",
    `  - name: effect-smtp-${name}`,
    "    rules:",
    ...rules.flatMap((rule) => [
      `      - alert: ${rule.alert}`,
      "        expr: |",
      indent(rule.expr, 10),
      `        for: ${rule.for}`,
      "        labels:",
      `          severity: ${rule.severity}`,
      `          profile: ${name}`,
      "        annotations:",
      `          summary: ${quote(rule.summary)}`,
      `          description: ${quote(rule.description)}`
    ]),
    ""
  ].join("\n")
}

const files = Object.entries(profiles).flatMap(([name, p]) => [
  [`observability/${name}/dashboard.json`, `${JSON.stringify(dashboardOf(name, p), null, 2)}\n`],
  [`observability/${name}/alerts.yml`, alertsOf(name, ruleProfiles[name])]
])

if (process.argv.includes("--check")) {
  const stale = files.filter(([file, text]) => {
    const path = Path.join(root, file)
    return !Fs.existsSync(path) || Fs.readFileSync(path, "utf8") !== text
  })
  for (const [file] of stale) console.error(`${file} differs from scripts/observability-kit.mjs: run it and commit`)
  process.exit(stale.length === 0 ? 0 : 1)
}
for (const [file, text] of files) {
  Fs.mkdirSync(Path.dirname(Path.join(root, file)), { recursive: true })
  Fs.writeFileSync(Path.join(root, file), text)
  console.log(`wrote ${file}`)
}
