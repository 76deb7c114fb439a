/**
 * The report as Markdown, so a run's output can go into docs/performance.md
 * as it is.
 */
import type { Summary } from "./measure.js"

export const markdown = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${row.join(" | ")} |`)
  ].join("\n")

const grouped = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 })

export const rate = (value: number): string => Number.isFinite(value) ? grouped.format(value) : "n/a"

export const spread = (summary: Summary, format: (value: number) => string = rate): string =>
  summary.runs === 0 ? "n/a" : summary.runs === 1 ? "(1 run)" : `${format(summary.min)}–${format(summary.max)}`

export const ratio = (value: number): string => Number.isFinite(value) ? `${value.toFixed(2)}×` : "n/a"

export const megabytes = (bytes: number): string =>
  Number.isFinite(bytes) ? `${(bytes / (1024 * 1024)).toFixed(1)} MB` : "n/a"

/** ✔ when the measured value meets the target, ✘ when not, "–" without a target. */
export const verdict = (value: number, target: { readonly atLeast?: number; readonly atMost?: number }): string =>
  !Number.isFinite(value)
    ? "?"
    : target.atLeast !== undefined
    ? (value >= target.atLeast ? "✔" : "✘")
    : target.atMost !== undefined
    ? (value <= target.atMost ? "✔" : "✘")
    : "–"
