"""Reference side of the differential test: what twilio-python sends for each operation.

Reads a JSON list of cases on stdin; each case names the credentials, optional region/edge,
an operation and its keyword arguments. Builds the request with twilio-python's own client
(an HttpClient that records instead of sending) and prints one JSON list of
{method, url, form, auth} on stdout, where form is the list of [key, value] pairs in the
order twilio-python's HTTP layer (requests) would encode them.
"""

import json
import sys

from twilio.base import values
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client


class Recorder(HttpClient):
    def __init__(self):
        super().__init__(logger=None, is_async=False)
        self.last = None

    def request(self, method, uri, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        pairs = []
        for key, value in (data or {}).items():
            if value is values.unset:
                continue
            if isinstance(value, (list, tuple)):
                pairs.extend([key, str(v)] for v in value)
            else:
                pairs.append([key, str(value)])
        self.last = {
            "method": method.upper(),
            "url": uri,
            "query": sorted((params or {}).items()),
            "form": pairs,
            "auth": auth[0] if auth else None,
        }
        if method.upper() == "DELETE":
            return Response(204, "")
        return Response(201 if method.upper() == "POST" else 200, "{}")


def run(case):
    recorder = Recorder()
    client = Client(
        case["username"],
        case["password"],
        account_sid=case["account_sid"],
        region=case.get("region"),
        edge=case.get("edge"),
        http_client=recorder,
    )
    op, kw = case["op"], case.get("kwargs", {})
    if op == "create_call":
        client.calls.create(**kw)
    elif op == "update_call":
        client.calls(case["sid"]).update(**kw)
    elif op == "fetch_call":
        client.calls(case["sid"]).fetch()
    elif op == "create_message":
        client.messages.create(**kw)
    elif op == "fetch_recording":
        client.recordings(case["sid"]).fetch()
    elif op == "delete_recording":
        client.recordings(case["sid"]).delete()
    else:
        raise SystemExit(f"unknown op {op}")
    return recorder.last


def main():
    cases = json.load(sys.stdin)
    json.dump([run(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
