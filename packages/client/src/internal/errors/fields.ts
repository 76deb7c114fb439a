import * as Schema from "effect/Schema"
import type * as SmtpProtocol from "../../SmtpProtocol.js"

/**
 * The field schemas the error classes share: the security mode, a refused
 * recipient, and the lists the client builds from the replies it parsed.
 */

/**
 * The literals of a public union type, as a list that compiles only when it
 * names every member: the class's schema and the documented type stay one.
 *
 * @internal
 */
export const everyOf = <Union extends string>() =>
<const List extends ReadonlyArray<Union>>(
  list: List & ([Exclude<Union, List[number]>] extends [never] ? unknown : never)
): List => list

/** The security mode a connection was opened with. @internal */
export const Security = Schema.Literals(
  everyOf<SmtpProtocol.Security>()(["tls", "starttls", "starttls-if-available", "none"])
)

/** One refused recipient, as `SmtpError.RecipientRejection` declares it. @internal */
export const RecipientRejection = Schema.Struct({
  recipient: Schema.String,
  statusCode: Schema.Number,
  enhancedStatusCode: Schema.optional(Schema.String),
  message: Schema.String
})

/**
 * A list the client builds itself (a message's recipients, the refusals of
 * its RCPTs). Constructing an error checks that it is an array, not every
 * entry: an error is built for every failed message, and checking each of
 * 1,000 refusals would add about 0.3 ms to it. Decoding (a stored row) still
 * checks every entry, through the list's encoded side.
 *
 * @internal
 */
export const listOf = <S extends Schema.Top>(item: S) =>
  Schema.Array(item).pipe(
    Schema.decodeTo(
      Schema.declare((u: unknown): u is ReadonlyArray<S["Type"]> => Array.isArray(u))
    )
  )
