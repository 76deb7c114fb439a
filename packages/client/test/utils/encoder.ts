/** The client's body encoder driven over a whole body, for its own tests. */
import * as Bytes from "effect/Bytes"
import * as dataEncoder from "../../src/internal/dataEncoder.js"

/** The whole wire form the encoder writes for a body handed over in `chunks`: DATA (dot-stuffed) or BDAT. */
export const encodeAll = (stuffDots: boolean, chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const body = dataEncoder.make(stuffDots)
  return Bytes.concat([...chunks.map((c) => body.write(c)), body.end()])
}
