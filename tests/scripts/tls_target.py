#!/usr/bin/env python3
"""An HTTPS scrape target that requires a client certificate, for the TLS
end-to-end test (tests/tests/scrape.rs). Python's ssl module is OpenSSL,
so pharos's TLS client meets an independent implementation.

Usage: tls_target.py PORT CERT KEY CLIENT_CA [tls13]

Serves `tls_target_up{host="<Host header>",sni="<server name indication>"} 1`
at any path on 127.0.0.1:PORT over TLS with the certificate CERT/KEY, and
refuses handshakes from clients without a certificate signed by CLIENT_CA.
With `tls13`, refuses TLS 1.2 as well.
"""

import http.server
import ssl
import sys

HEAD = "# HELP tls_target_up Served over TLS.\n# TYPE tls_target_up gauge\n"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        def clean(v):
            return v.replace("\\", "").replace('"', "")

        host = clean(self.headers.get("Host", ""))
        sni = clean(getattr(self.connection, "sni", None) or "")
        body = (HEAD + 'tls_target_up{host="%s",sni="%s"} 1\n' % (host, sni)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    port, cert, key, client_ca = sys.argv[1:5]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(client_ca)
    context.verify_mode = ssl.CERT_REQUIRED
    if sys.argv[5:] == ["tls13"]:
        context.minimum_version = ssl.TLSVersion.TLSv1_3

    # The name the client asked for (None if it named none), read back by
    # the handler.
    def remember_sni(sock, name, _context):
        sock.sni = name

    context.sni_callback = remember_sni
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
