// The CommonJS application: require() of the ESM-only packages (Node 20.19+),
// one message through NodeSmtp.layer.
"use strict"
const { SmtpClient } = require("@effect-smtp/client")
const { NodeSmtp } = require("@effect-smtp/node")
const Effect = require("effect/Effect")
const { start } = require("./server.cjs")

const main = async () => {
  const server = await start()
  const result = await Effect.runPromise(
    SmtpClient.send({
      from: "app@example.com",
      to: ["carol@example.com"],
      content: "From: app@example.com\r\nTo: carol@example.com\r\nSubject: cjs\r\n\r\nHello.\r\n"
    }).pipe(Effect.provide(NodeSmtp.layer({ host: "127.0.0.1", port: server.port, security: "none" })))
  )
  await server.close()
  if (result.accepted.join() !== "carol@example.com" || server.received.length !== 1) {
    console.error(`cjs: accepted ${JSON.stringify(result.accepted)}, received ${server.received.length}`)
    process.exit(1)
  }
  console.log(`cjs: 1 message sent (Node ${process.version})`)
}
main().catch((error) => {
  console.error("cjs:", error)
  process.exit(1)
})
