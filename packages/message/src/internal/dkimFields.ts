/**
 * The header fields of a message, as a signer sees them: which fields there
 * are, and which instance each name in `h=` stands for (RFC 6376 §5.4.2).
 */

/** @internal */
export interface Field {
  /** Lower case, without white space before the colon: what `h=` names are matched against. */
  readonly name: string
  /** The field as in the message (binary string), folding included, without its final CRLF. */
  readonly raw: string
}

/**
 * Splits a header block (CRLF line breaks, every line ending with one) into
 * fields: a line starting with white space continues the field before it. A
 * line without a colon (which RFC 5322 does not allow) is a field whose name
 * is the whole line, so it is never signed and never lost.
 *
 * @internal
 */
export const parseFields = (block: string): Array<Field> => {
  const fields: Array<Field> = []
  const lines = block.split("\r\n")
  // The block ends with CRLF: the last "line" is empty.
  lines.pop()
  let current: Array<string> = []
  const close = () => {
    if (current.length === 0) return
    const raw = current.join("\r\n")
    const colon = raw.indexOf(":")
    const name = (colon === -1 ? raw : raw.slice(0, colon)).replace(/[ \t]+$/, "")
    fields.push({ name: name.replace(/[A-Z]+/g, (s) => s.toLowerCase()), raw })
    current = []
  }
  for (const line of lines) {
    if ((line.startsWith(" ") || line.startsWith("\t")) && current.length > 0) current.push(line)
    else {
      close()
      current.push(line)
    }
  }
  close()
  return fields
}

/**
 * The instance of each `h=` entry: the n-th occurrence of a name in `h=` is
 * that name's n-th field counted from the bottom; one past the last (an
 * over-signed name) is no field at all, and hashes as nothing.
 *
 * @internal
 */
export const selectFields = (
  fields: ReadonlyArray<Field>,
  signed: ReadonlyArray<string>
): Array<Field | undefined> => {
  const used = new Map<string, number>()
  return signed.map((name) => {
    const skip = used.get(name) ?? 0
    used.set(name, skip + 1)
    let seen = 0
    for (let i = fields.length - 1; i >= 0; i--) {
      if (fields[i].name !== name) continue
      if (seen === skip) return fields[i]
      seen++
    }
    return undefined
  })
}

/** @internal */
export const countFields = (fields: ReadonlyArray<Field>, name: string): number => {
  let count = 0
  for (const field of fields) if (field.name === name) count++
  return count
}
