// A real smtp-server (npm) on 127.0.0.1, port 0, for the consumer apps: the
// peer a user's application would talk to. CommonJS, so the ESM and the CJS
// apps share it. Recipients starting with "reject" get 550.
"use strict"
const { SMTPServer } = require("smtp-server")

exports.start = () =>
  new Promise((resolve) => {
    const received = []
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      disableReverseLookup: true,
      onRcptTo(address, _session, callback) {
        if (address.address.startsWith("reject")) {
          const error = new Error("5.1.1 No such user")
          error.responseCode = 550
          return callback(error)
        }
        callback()
      },
      onData(stream, session, callback) {
        const chunks = []
        stream.on("data", (chunk) => chunks.push(chunk))
        stream.on("end", () => {
          received.push({
            from: session.envelope.mailFrom.address,
            to: session.envelope.rcptTo.map((r) => r.address),
            data: Buffer.concat(chunks).toString("utf8")
          })
          callback(null)
        })
      }
    })
    server.on("error", () => {})
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: server.server.address().port,
        received,
        close: () => new Promise((done) => server.close(done))
      }))
  })
