import { fc, prop } from "@effect-smtp/test-utils/property"
import { describe, expect } from "@effect/vitest"
import * as slab from "../src/internal/slab.js"

describe("slab", () => {
  prop(
    "a view is never handed out twice: every allocation keeps its bytes whatever is allocated after it",
    [fc.array(
      fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 20_000 })),
      {
        minLength: 1,
        maxLength: 200
      }
    )],
    ([sizes]) => {
      const views = sizes.map((size, i) => {
        const view = slab.allocate(size)
        expect(view.length).toBe(size)
        view.fill(i % 251)
        return view
      })
      views.forEach((view, i) => expect(view.every((b) => b === i % 251)).toBe(true))
    },
    { fastCheck: { numRuns: 200 } }
  )

  prop(
    "encode gives the same bytes as TextEncoder, and the text encoded next never overwrites them",
    [fc.array(fc.string({ unit: "binary", maxLength: 3000 }), { minLength: 1, maxLength: 40 })],
    ([texts]) => {
      const reference = new TextEncoder()
      const encoded = texts.map((text) => slab.encode(text))
      encoded.forEach((bytes, i) => expect(Array.from(bytes)).toEqual(Array.from(reference.encode(texts[i]))))
    },
    { fastCheck: { numRuns: 200 } }
  )
})
