"""Verifies DKIM signatures with dkimpy (Debian's python3-dkim), keys served
without DNS. One request per stdin line, one answer per stdout line, so that
a test starts Python once for many messages:

  request:  {"path": "/tmp/m.eml", "records": {"s._domainkey.example.com": "v=DKIM1; k=rsa; p=..."}}
  answer:   {"results": [{"ok": true, "error": null}, ...]}   one per DKIM-Signature, top first
"""
import json
import logging
import sys

import dkim


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def verify(path, records):
    with open(path, "rb") as f:
        message = f.read()

    def dnsfunc(name, timeout=5):
        key = name.decode("ascii") if isinstance(name, bytes) else name
        value = records.get(key.rstrip("."))
        return None if value is None else value.encode("ascii")

    checker = dkim.DKIM(message, minkey=1024)
    count = len([1 for name, _ in checker.headers if name.lower() == b"dkim-signature"])
    results = []
    for idx in range(count):
        logger = logging.Logger("dkimpy", logging.INFO)
        collect = Collect()
        logger.addHandler(collect)
        try:
            ok = dkim.DKIM(message, logger=logger, minkey=1024).verify(idx=idx, dnsfunc=dnsfunc)
            results.append({"ok": bool(ok), "error": None if ok else "; ".join(collect.lines[-3:])})
        except dkim.DKIMException as error:
            results.append({"ok": False, "error": str(error)})
    return results


for line in sys.stdin:
    request = json.loads(line)
    try:
        answer = {"results": verify(request["path"], request["records"])}
    except Exception as error:  # a crash is an answer too: the test shows it
        answer = {"results": [], "crash": repr(error)}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
