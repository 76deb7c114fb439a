import * as Bytes from "effect/Bytes"
import { SmtpProtocolError } from "../SmtpError.js"
import type { Reply } from "../SmtpProtocol.js"

export type { Reply }

/**
 * Limits that keep a hostile server from making the client hang or grow
 * without bound. RFC 5321 allows 512-octet reply lines; real servers exceed
 * that a little, so the line limit is generous.
 *
 * @internal
 */
export interface ReplyLimits {
  readonly maxLineBytes: number
  readonly maxReplyBytes: number
  readonly maxLines: number
}

/** @internal */
export const defaultLimits: ReplyLimits = {
  maxLineBytes: 4 * 1024,
  maxReplyBytes: 64 * 1024,
  maxLines: 1000
}

const noBytes = new Uint8Array(0)
const LF = 0x0a
const CR = 0x0d
const enhancedCodePattern = /^([245])\.(\d{1,3})\.(\d{1,3})(?:\s+|$)/
const utf8 = new TextDecoder("utf-8", { fatal: false })

/** @internal */
export const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39

/** @internal */
export const text = (reply: Reply): string => reply.lines.join("\n")

/** @internal */
export const render = (reply: Reply): string =>
  reply.lines.map((line, i) =>
    `${reply.code}${i === reply.lines.length - 1 ? " " : "-"}${
      i === 0 && reply.enhancedCode !== undefined ? `${reply.enhancedCode} ` : ""
    }${line}`
  ).join("\r\n") + "\r\n"

/**
 * An incremental reply parser: bytes go in as they arrive, split anywhere;
 * complete replies come out in order. A chunk boundary never changes a result.
 *
 * @internal
 */
export class ReplyParser {
  private pending: Uint8Array = noBytes
  private readonly complete: Array<Reply> = []
  private code: number | undefined = undefined
  private lines: Array<string> = []
  private replyBytes = 0

  constructor(readonly limits: ReplyLimits = defaultLimits) {}

  /** Bytes received and not yet part of a returned reply. */
  get hasBuffered(): boolean {
    return this.pending.length > 0 || this.complete.length > 0 || this.lines.length > 0
  }

  /** Feeds bytes; fails on a malformed or over-long reply. */
  push(chunk: Uint8Array): SmtpProtocolError | undefined {
    const data = this.pending.length > 0 ? Bytes.concat([this.pending, chunk]) : chunk
    let start = 0
    while (start < data.length) {
      const lf = data.indexOf(LF, start)
      if (lf === -1) break
      const end = lf > start && data[lf - 1] === CR ? lf - 1 : lf
      const error = this.line(data, start, end, lf + 1 - start)
      if (error !== undefined) return error
      start = lf + 1
    }
    // Usually every byte was consumed: no new (empty) array for the rest.
    this.pending = start === 0 ? data : start === data.length ? noBytes : data.slice(start)
    // Before the length limit, as in `line`, so a chunk boundary never changes which error it is.
    if (this.lines.length === 0 && isTlsRecord(this.pending, 0, this.pending.length)) return tlsRecord()
    if (this.pending.length > this.limits.maxLineBytes) {
      return new SmtpProtocolError({
        reason: "ReplyTooLong",
        detail: `a reply line is longer than ${this.limits.maxLineBytes} bytes`
      })
    }
    return undefined
  }

  /** The next complete reply, if one has arrived. */
  take(): Reply | undefined {
    return this.complete.shift()
  }

  private line(data: Uint8Array, start: number, end: number, rawLength: number): SmtpProtocolError | undefined {
    const length = end - start
    if (this.lines.length === 0 && isTlsRecord(data, start, end)) return tlsRecord()
    if (rawLength > this.limits.maxLineBytes) {
      return new SmtpProtocolError({
        reason: "ReplyTooLong",
        detail: `a reply line is longer than ${this.limits.maxLineBytes} bytes`
      })
    }
    if (length < 3 || !isDigit(data[start]) || !isDigit(data[start + 1]) || !isDigit(data[start + 2])) {
      return malformed(data, start, end)
    }
    const code = (data[start] - 0x30) * 100 + (data[start + 1] - 0x30) * 10 + (data[start + 2] - 0x30)
    const separator = length > 3 ? data[start + 3] : 0x20
    if (separator !== 0x20 && separator !== 0x2d) return malformed(data, start, end)
    if (code < 200 || code > 599) return malformed(data, start, end)
    if (this.code !== undefined && this.code !== code) {
      return new SmtpProtocolError({
        reason: "MalformedReply",
        detail: `a multi-line reply changed its code from ${this.code} to ${code}`
      })
    }
    this.code = code
    this.replyBytes += rawLength
    if (this.lines.length + 1 > this.limits.maxLines) {
      return new SmtpProtocolError({
        reason: "ReplyTooLong",
        detail: `a reply has more than ${this.limits.maxLines} lines`
      })
    }
    if (this.replyBytes > this.limits.maxReplyBytes) {
      return new SmtpProtocolError({
        reason: "ReplyTooLong",
        detail: `a reply is longer than ${this.limits.maxReplyBytes} bytes`
      })
    }
    this.lines.push(length > 4 ? utf8.decode(data.subarray(start + 4, end)) : "")
    if (separator === 0x20) {
      this.complete.push(finish(code, this.lines))
      this.code = undefined
      this.lines = []
      this.replyBytes = 0
    }
    return undefined
  }
}

/** @internal */
export const tlsRecordDetail = "got a TLS record (bytes 0x16 0x03 or 0x15 0x03), not an SMTP reply"

/**
 * A TLS record (handshake 0x16 or alert 0x15, then version 0x03) where a
 * reply begins: the port speaks TLS. No reply line starts with either byte,
 * so this fails only sooner than waiting for a line end that may never come.
 */
const isTlsRecord = (data: Uint8Array, start: number, end: number): boolean =>
  end - start >= 2 && (data[start] === 0x16 || data[start] === 0x15) && data[start + 1] === 0x03

const tlsRecord = (): SmtpProtocolError => new SmtpProtocolError({ reason: "MalformedReply", detail: tlsRecordDetail })

const malformed = (data: Uint8Array, start: number, end: number): SmtpProtocolError =>
  new SmtpProtocolError({
    reason: "MalformedReply",
    detail: `expected a three-digit code and " " or "-", got ${
      JSON.stringify(utf8.decode(data.subarray(start, Math.min(end, start + 80))))
    }`
  })

/**
 * Reads the enhanced status code off the first line when the class matches
 * the reply's (RFC 3463 requires it), and keeps it on every line only once.
 */
const finish = (code: number, lines: Array<string>): Reply => {
  const match = enhancedCodePattern.exec(lines[0])
  if (match !== null && Number(match[1]) === Math.floor(code / 100)) {
    const enhancedCode = `${match[1]}.${match[2]}.${match[3]}`
    // The usual one-line reply: its code is already matched.
    if (lines.length === 1) return { code, enhancedCode, lines: [lines[0].slice(match[0].length)] }
    const strip = (line: string) => {
      const m = enhancedCodePattern.exec(line)
      return m !== null && `${m[1]}.${m[2]}.${m[3]}` === enhancedCode ? line.slice(m[0].length) : line
    }
    return { code, enhancedCode, lines: lines.map(strip) }
  }
  return { code, enhancedCode: undefined, lines }
}
