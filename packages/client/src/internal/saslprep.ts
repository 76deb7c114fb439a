import * as Result from "effect/Result"

/**
 * SASLprep (RFC 4013, the stringprep profile of RFC 3454) for the user name
 * and password SCRAM hashes, as a query string (unassigned code points pass).
 *
 * What is covered: the mapping (non-ASCII spaces, table C.1.2, to U+0020;
 * "commonly mapped to nothing", table B.1, removed), NFKC normalisation, every
 * prohibited table (C.1.2 to C.9: controls, private use, non-characters,
 * surrogates, inappropriate for plain text or canonical representation,
 * change display properties, tagging), and the bidirectional rule (RFC 3454
 * §6) with table D.1 (RandALCat) exactly. Approximations: LCat (table D.2,
 * hundreds of ranges) is taken as "a letter or spacing mark that is not
 * RandALCat"; normalisation and the letter classes follow the Unicode
 * version of the JavaScript engine, not Unicode 3.2 as RFC 3454 does, which
 * differs only for characters assigned since 2002.
 */

/** C.1.2: non-ASCII space characters, mapped to SPACE. */
const nonAsciiSpace = /[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/gu

/** B.1: commonly mapped to nothing. */
// The class lists code points, matched one at a time (u flag); combining and
// joining characters in it are members, not parts of a grapheme.
// eslint-disable-next-line no-misleading-character-class
const mappedToNothing = /[\u00ad\u034f\u1806\u180b-\u180d\u200b-\u200d\u2060\ufe00-\ufe0f\ufeff]/gu

/** C.1.2 to C.9: nothing of these may remain after mapping and normalisation. */
/* eslint-disable no-misleading-character-class -- code point sets, as above */
const prohibited = new RegExp(
  [
    // C.1.2 (after mapping, only what NFKC brought back)
    "[\\u00a0\\u1680\\u2000-\\u200b\\u202f\\u205f\\u3000]",
    // C.2.1 ASCII controls
    "[\\u0000-\\u001f\\u007f]",
    // C.2.2 non-ASCII controls
    "[\\u0080-\\u009f\\u06dd\\u070f\\u180e\\u200c\\u200d\\u2028\\u2029\\u2060-\\u2063\\u206a-\\u206f\\ufeff\\ufff9-\\ufffc]",
    "[\\u{1d173}-\\u{1d17a}]",
    // C.3 private use
    "[\\ue000-\\uf8ff\\u{f0000}-\\u{ffffd}\\u{100000}-\\u{10fffd}]",
    // C.4 non-character code points
    "[\\ufdd0-\\ufdef\\ufffe\\uffff]",
    "[\\u{1fffe}\\u{1ffff}\\u{2fffe}\\u{2ffff}\\u{3fffe}\\u{3ffff}\\u{4fffe}\\u{4ffff}\\u{5fffe}\\u{5ffff}]",
    "[\\u{6fffe}\\u{6ffff}\\u{7fffe}\\u{7ffff}\\u{8fffe}\\u{8ffff}\\u{9fffe}\\u{9ffff}\\u{afffe}\\u{affff}]",
    "[\\u{bfffe}\\u{bffff}\\u{cfffe}\\u{cffff}\\u{dfffe}\\u{dffff}\\u{efffe}\\u{effff}\\u{ffffe}\\u{fffff}]",
    "[\\u{10fffe}\\u{10ffff}]",
    // C.5 surrogate code points (a lone surrogate in a JavaScript string)
    "[\\ud800-\\udfff]",
    // C.6 inappropriate for plain text, C.7 for canonical representation
    "[\\ufff9-\\ufffd\\u2ff0-\\u2ffb]",
    // C.8 change display properties or are deprecated
    "[\\u0340\\u0341\\u200e\\u200f\\u202a-\\u202e\\u206a-\\u206f]",
    // C.9 tagging characters
    "[\\u{e0001}\\u{e0020}-\\u{e007f}]"
  ].join("|"),
  "u"
)
/* eslint-enable no-misleading-character-class */

/** D.1: characters with bidirectional property R or AL. */
const randAL =
  "\\u05be\\u05c0\\u05c3\\u05d0-\\u05ea\\u05f0-\\u05f4\\u061b\\u061f\\u0621-\\u063a\\u0640-\\u064a\\u066d-\\u066f" +
  "\\u0671-\\u06d5\\u06dd\\u06e5\\u06e6\\u06fa-\\u06fe\\u0700-\\u070d\\u0710\\u0712-\\u072c\\u0780-\\u07a5\\u07b1" +
  "\\u200f\\ufb1d\\ufb1f-\\ufb28\\ufb2a-\\ufb36\\ufb38-\\ufb3c\\ufb3e\\ufb40\\ufb41\\ufb43\\ufb44\\ufb46-\\ufbb1" +
  "\\ufbd3-\\ufd3d\\ufd50-\\ufd8f\\ufd92-\\ufdc7\\ufdf0-\\ufdfc\\ufe70-\\ufe74\\ufe76-\\ufefc"
const isRandAL = new RegExp(`[${randAL}]`, "u")
/**
 * LCat, approximated: a letter or spacing mark that is neither RandALCat nor of
 * a right-to-left script (whose letters assigned after Unicode 3.2 are not in
 * D.1, and are not LCat either).
 */
const hasLetterNotRandAL = new RegExp(
  `(?![${randAL}])(?!\\p{Script=Hebrew}|\\p{Script=Arabic}|\\p{Script=Syriac}|\\p{Script=Thaana}|` +
    `\\p{Script=Nko}|\\p{Script=Samaritan}|\\p{Script=Mandaic}|\\p{Script=Adlam})[\\p{L}\\p{Mc}]`,
  "u"
)

/**
 * Why a string cannot be SASLprepped; the reason never quotes the string
 * (it may be a password).
 *
 * @internal
 */
export type SaslprepFailure = "prohibited character" | "mixed or misplaced right-to-left text"

/** @internal */
export const saslprep = (text: string): Result.Result<string, SaslprepFailure> => {
  // Fast path: printable ASCII is unchanged by every step.
  if (/^[\u0020-\u007e]*$/.test(text)) return Result.succeed(text)
  const prepared = text.replace(nonAsciiSpace, " ").replace(mappedToNothing, "").normalize("NFKC")
  if (prohibited.test(prepared)) return Result.fail("prohibited character")
  if (isRandAL.test(prepared)) {
    const chars = Array.from(prepared)
    const first = chars[0] ?? ""
    const last = chars[chars.length - 1] ?? ""
    if (hasLetterNotRandAL.test(prepared) || !isRandAL.test(first) || !isRandAL.test(last)) {
      return Result.fail("mixed or misplaced right-to-left text")
    }
  }
  return Result.succeed(prepared)
}
