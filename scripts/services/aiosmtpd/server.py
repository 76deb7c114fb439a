"""A small mail server on aiosmtpd for the interop tests.

Started by scripts/services/aiosmtpd.sh with Debian's /usr/bin/python3 and
python3-aiosmtpd. Every accepted message is stored in a Maildir (written to
tmp/, renamed into new/, so a file seen in new/ is complete): a few trace
headers that say what the server saw in the envelope, then the message bytes
exactly as aiosmtpd received them (CRLF line ends, dot-stuffing undone).

Listeners (all on --host):
  --port        STARTTLS, AUTH PLAIN/LOGIN (only after STARTTLS), SMTPUTF8;
                a wrong password gets 535 5.7.8.
  --port + 1    plaintext, refuses every second recipient of a transaction
                (550 5.1.1), so a partial delivery is reproducible.
  --port + 2    implicit TLS (SMTPS), otherwise as --port.
  --port + 3    plaintext, offers PIPELINING, and refuses MAIL, RCPT and DATA
                that a client pipelined behind a message's final dot (503),
                as some servers do since the 2023 SMTP smuggling advisories;
                none of the Debian MTAs measured does (see the README), so
                this listener is where a client's fallback is tested.
"""

import argparse
import asyncio
import hmac
import logging
import os
import signal
import socket
import ssl
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

log = logging.getLogger("effect-smtp-aiosmtpd")


class Maildir:
    """Writes each message once, atomically, the way a Maildir MTA does."""

    def __init__(self, path):
        self.path = path
        self.count = 0
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)

    def store(self, data):
        self.count += 1
        name = f"{time.time_ns()}.P{os.getpid()}Q{self.count}.{socket.gethostname()}"
        tmp = os.path.join(self.path, "tmp", name)
        with open(tmp, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.rename(tmp, os.path.join(self.path, "new", name))
        return name


def trace_headers(listener, server, session, envelope):
    """What the server saw, as headers on top of the stored copy."""
    lines = [
        b"X-Aiosmtpd-Listener: " + listener.encode(),
        b"X-Aiosmtpd-Mail-From: <" + envelope.mail_from.encode("utf-8") + b">",
    ]
    for rcpt in envelope.rcpt_tos:
        lines.append(b"X-Aiosmtpd-Rcpt-To: <" + rcpt.encode("utf-8") + b">")
    lines.append(b"X-Aiosmtpd-Mail-Options: " + " ".join(envelope.mail_options).encode("utf-8"))
    # The transport in use: after STARTTLS, or from the first byte, the TLS one.
    cipher = server.transport.get_extra_info("cipher") if server.transport else None
    lines.append(b"X-Aiosmtpd-Tls: " + (str(cipher[1]).encode() if cipher else b"none"))
    auth = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
    lines.append(b"X-Aiosmtpd-Auth: " + (auth if auth else b"none"))
    return b"".join(line + b"\r\n" for line in lines)


class StoringHandler:
    def __init__(self, maildir, listener):
        self.maildir = maildir
        self.listener = listener

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if rcpt_options:
            return "555 5.5.4 RCPT TO parameters not recognized"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        name = self.maildir.store(trace_headers(self.listener, server, session, envelope) + envelope.original_content)
        log.info("stored listener=%s peer=%s file=%s bytes=%d from=<%s> to=%s", self.listener, peer(session), name,
                 len(envelope.original_content), envelope.mail_from, envelope.rcpt_tos)
        return f"250 2.0.0 OK queued as {name}"


class EverySecondRecipientRefused(StoringHandler):
    """The 2nd, 4th, ... RCPT of each transaction gets a permanent refusal."""

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        session.rcpt_seen = 0
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        session.rcpt_seen = getattr(session, "rcpt_seen", 0) + 1
        if session.rcpt_seen % 2 == 0:
            return f"550 5.1.1 <{address}>: refused, every second recipient is"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def peer(session):
    host, port = session.peer[:2]
    return f"{host}:{port}"


class RefusesPipelinedAfterData(SMTP):
    """An aiosmtpd server that offers PIPELINING but answers MAIL, RCPT and
    DATA that arrived behind a final dot, before its reply to that dot, with
    503. Each refusal is logged with the client's address and port, so a test
    can tell how often each connection grouped commands behind a dot."""

    REFUSAL = "503 5.5.0 Bad sequence of commands - pipelined after end of DATA"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Command lines that were already received when the last message's
        # final dot was answered: the client sent them without waiting.
        self.behind_dot = 0

    def note_end_of_data(self):
        # aiosmtpd reads DATA from its own StreamReader, so what is left in
        # its buffer at this point came in behind the dot. The next message's
        # body cannot be among it: a client waits for 354 first.
        self.behind_dot = bytes(self._reader._buffer).count(b"\r\n")

    async def refused(self, verb, arg):
        if self.behind_dot == 0:
            return False
        self.behind_dot -= 1
        log.info("after-data-refused peer=%s command=%s %s", peer(self.session), verb, arg)
        await self.push(self.REFUSAL)
        return True

    async def smtp_MAIL(self, arg):
        if not await self.refused("MAIL", arg):
            await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg):
        if not await self.refused("RCPT", arg):
            await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg):
        if not await self.refused("DATA", arg):
            await super().smtp_DATA(arg)

    # Other commands behind a dot are allowed, but still count as lines.
    async def smtp_RSET(self, arg):
        self.behind_dot = max(0, self.behind_dot - 1)
        await super().smtp_RSET(arg)

    async def smtp_NOOP(self, arg):
        self.behind_dot = max(0, self.behind_dot - 1)
        await super().smtp_NOOP(arg)

    async def smtp_QUIT(self, arg):
        self.behind_dot = max(0, self.behind_dot - 1)
        await super().smtp_QUIT(arg)


class PipeliningHandler(StoringHandler):
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:-1] + ["250-PIPELINING"] + responses[-1:]

    async def handle_DATA(self, server, session, envelope):
        server.note_end_of_data()
        return await super().handle_DATA(server, session, envelope)


class Authenticator:
    """PLAIN and LOGIN against one user; a wrong password is 535 (handled=False
    lets aiosmtpd send its 535: with the default handled=True it would send no
    reply at all and the client would wait for its timeout)."""

    def __init__(self, user, password):
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and hmac.compare_digest(auth_data.login, self.user)
            and hmac.compare_digest(auth_data.password, self.password)
        )
        if not ok:
            log.info("AUTH %s refused for %r", mechanism, auth_data.login if auth_data else None)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # aiosmtpd logs every line at DEBUG; INFO keeps connections and results.
    logging.getLogger("mail.log").setLevel(logging.INFO)

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)
    maildir = Maildir(args.maildir)
    authenticator = Authenticator(args.user, args.password)

    def listener(handler, server_class=SMTP, **options):
        """A protocol factory: every listener stores raw bytes and offers SMTPUTF8."""
        return lambda: server_class(handler, hostname="localhost", enable_SMTPUTF8=True, decode_data=False, **options)

    submission = listener(StoringHandler(maildir, "starttls"), tls_context=tls, auth_require_tls=True,
                          authenticator=authenticator)
    # Implicit TLS: aiosmtpd does not know the transport is already TLS, so
    # AUTH must not wait for a STARTTLS that never comes.
    smtps = listener(StoringHandler(maildir, "smtps"), auth_require_tls=False, authenticator=authenticator)
    refusing = listener(EverySecondRecipientRefused(maildir, "every-second-refused"))
    after_data_strict = listener(PipeliningHandler(maildir, "refuses-pipelined-after-data"),
                                 server_class=RefusesPipelinedAfterData)

    async def serve():
        loop = asyncio.get_running_loop()
        servers = [
            await loop.create_server(submission, args.host, args.port),
            await loop.create_server(refusing, args.host, args.port + 1),
            await loop.create_server(smtps, args.host, args.port + 2, ssl=tls),
            await loop.create_server(after_data_strict, args.host, args.port + 3),
        ]
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("listening on %s:%d (STARTTLS), :%d (every second recipient refused), :%d (implicit TLS), "
                 ":%d (refuses commands pipelined after end of DATA)",
                 args.host, args.port, args.port + 1, args.port + 2, args.port + 3)
        await stop.wait()
        for server in servers:
            server.close()
        log.info("stopped")

    asyncio.run(serve())


if __name__ == "__main__":
    main()
