/** Splits bytes at the given cut points (any, sorted, deduplicated). */
export const splitAt = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let start = 0
  for (const p of points) {
    chunks.push(bytes.subarray(start, p))
    start = p
  }
  chunks.push(bytes.subarray(start))
  return chunks
}
