"""Differential-test peer: twilio-python's RequestValidator over JSON lines.

Reads one JSON object per line on stdin:
  {"token": str, "url": str, "params": [[name, value], ...] | null, "body": str | null,
   "signature": str, "algorithm": str | null}
and writes one JSON object per line on stdout:
  {"compute": str | null, "valid": bool | null, "without_port": str | null,
   "with_port": str | null, "error": str | null}
`compute` is compute_signature(url, params) (params empty for a JSON body), `valid` is
validate(url, params or body, signature, algorithm), `without_port` / `with_port` are
remove_port / add_port of urlparse(url). A Python exception is reported in `error`.
"""

import json
import sys
from urllib.parse import urlparse

from twilio.request_validator import RequestValidator, add_port, remove_port


class MultiDict:
    """The smallest MultiDict twilio-python accepts (it calls getall for repeated names)."""

    def __init__(self, pairs):
        self.pairs = [(k, v) for k, v in pairs]

    def __iter__(self):
        return iter([k for k, _ in self.pairs])

    def __len__(self):
        return len(self.pairs)

    def getall(self, name):
        return [v for k, v in self.pairs if k == name]


def answer(case):
    out = {"compute": None, "valid": None, "without_port": None, "with_port": None, "error": None}
    try:
        validator = RequestValidator(case["token"])
        params = MultiDict(case["params"] or [])
        out["compute"] = validator.compute_signature(case["url"], params, case.get("algorithm"))
        parsed = urlparse(case["url"])
        out["with_port"] = add_port(parsed)
        out["without_port"] = remove_port(parsed)
        subject = case["body"] if case.get("body") is not None else params
        out["valid"] = bool(
            validator.validate(case["url"], subject, case["signature"], case.get("algorithm"))
        )
    except Exception as exc:  # noqa: BLE001 - reported to the Rust side, which expects it
        out["error"] = "%s: %s" % (type(exc).__name__, exc)
    return out


def main():
    for line in sys.stdin:
        if line.strip():
            sys.stdout.write(json.dumps(answer(json.loads(line))) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
