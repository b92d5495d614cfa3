#!/usr/bin/env python3
"""An OAuth 2.0 token server and a scrape target that wants its tokens, in
one process, for the oauth2 end-to-end test (tests/tests/scrape.rs).

Usage: oauth2_target.py PORT CLIENT_ID CLIENT_SECRET

- POST /token: the client-credentials grant. The client authenticates with
  HTTP basic auth (id and secret query-escaped, RFC 6749 section 2.3.1);
  the form must say grant_type=client_credentials and scope=metrics. A new
  token is issued per request.
- GET /metrics: 200 with `oauth2_tokens_issued N` only for
  `Authorization: Bearer <the newest token>`, 401 otherwise.
"""

import base64
import http.server
import json
import sys
import threading
import urllib.parse

LOCK = threading.Lock()
ISSUED = []


class Handler(http.server.BaseHTTPRequestHandler):
    def reply(self, status, kind, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        want = "Basic " + base64.b64encode(
            (urllib.parse.quote_plus(CLIENT_ID) + ":" + urllib.parse.quote_plus(CLIENT_SECRET)).encode()
        ).decode()
        if self.path != "/token" or self.headers.get("Authorization") != want:
            return self.reply(401, "application/json", '{"error":"invalid_client"}')
        if form.get("grant_type") != ["client_credentials"] or form.get("scope") != ["metrics"]:
            return self.reply(400, "application/json", '{"error":"invalid_request"}')
        with LOCK:
            ISSUED.append("token-%d" % (len(ISSUED) + 1))
            token = ISSUED[-1]
        body = {"access_token": token, "token_type": "bearer", "expires_in": 3600}
        self.reply(200, "application/json", json.dumps(body))

    def do_GET(self):
        with LOCK:
            newest = ISSUED[-1] if ISSUED else None
            count = len(ISSUED)
        if newest is None or self.headers.get("Authorization") != "Bearer " + newest:
            return self.reply(401, "text/plain", "a bearer token from /token is needed\n")
        body = (
            "# HELP oauth2_tokens_issued Tokens the token server issued.\n"
            "# TYPE oauth2_tokens_issued gauge\n"
            "oauth2_tokens_issued %d\n" % count
        )
        self.reply(200, "text/plain; version=0.0.4", body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port, CLIENT_ID, CLIENT_SECRET = sys.argv[1], sys.argv[2], sys.argv[3]
    http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
