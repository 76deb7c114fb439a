/**
 * effect-smtp's message composer on Node.js: attachments read from files.
 * The package's main entry point does not need Node; this one does.
 *
 * @since 0.1.0
 */

/**
 * Attachments streamed from a file path (`node:fs`).
 *
 * @since 0.1.0
 */
export * as NodeAttachment from "./NodeAttachment.js"
