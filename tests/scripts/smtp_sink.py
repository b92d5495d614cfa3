# An SMTP server for the email tests (Python's aiosmtpd, Debian package
# python3-aiosmtpd): listens on a port the kernel picks, prints `PORT n`,
# then one JSON line per delivered message, parsed by Python's `email`
# package. With two arguments (user, password) it requires AUTH; with
# `--tls CERT KEY` first it offers STARTTLS with that certificate and takes
# no mail before it.
import asyncio, email, email.policy, json, logging, socket, ssl, sys, warnings
from aiosmtpd.smtp import SMTP, AuthResult

# AUTH without TLS is what the test wants; keep aiosmtpd quiet about it.
warnings.simplefilter("ignore")
logging.getLogger("mail.log").setLevel(logging.ERROR)

ARGS = sys.argv[1:]
TLS = None
if ARGS[:1] == ["--tls"]:
    TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    TLS.load_cert_chain(ARGS[1], ARGS[2])
    ARGS = ARGS[3:]
USER, PASSWORD = (ARGS[0], ARGS[1]) if len(ARGS) > 1 else (None, None)

class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                       policy=email.policy.default)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            parts.append({"type": part.get_content_type(),
                          "cte": part.get("Content-Transfer-Encoding", ""),
                          "body": part.get_content()})
        print(json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "authenticated": bool(session.authenticated),
            "content_type": msg.get_content_type(),
            "headers": {k: str(v) for k, v in msg.items()},
            "parts": parts,
        }), flush=True)
        return "250 OK"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)

async def main():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    kwargs = {}
    if USER is not None:
        kwargs = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    if TLS is not None:
        kwargs.update(tls_context=TLS, require_starttls=True)
    loop = asyncio.get_running_loop()
    await loop.create_server(lambda: SMTP(Handler(), hostname="smtp.test", **kwargs), sock=sock)
    print("PORT %d" % sock.getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
