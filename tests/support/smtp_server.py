#!/usr/bin/env python3
"""An SMTP server for Keywarden's integration tests: aiosmtpd (not our code) on
127.0.0.1, with STARTTLS (required) or implicit TLS, and AUTH (required).

Every accepted message is parsed with Python's email package and recorded in OUT as
N.eml (raw) and N.json (envelope, headers, MIME parts). The first --fail-first DATA
commands are answered with --fail-reply instead (e.g. "451 4.3.0 try later").
Prints "READY <port>" once it accepts connections; runs until killed.
"""
import argparse
import email
import email.policy
import json
import os
import socket
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, out, fail_first, fail_reply):
        self.out = out
        self.fail_first = fail_first
        self.fail_reply = fail_reply
        self.data_commands = 0
        self.accepted = 0

    async def handle_DATA(self, server, session, envelope):
        self.data_commands += 1
        if self.data_commands <= self.fail_first:
            return self.fail_reply
        self.accepted += 1
        n = self.accepted
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            parts.append({"content_type": part.get_content_type(), "content": part.get_content()})
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": bool(session.authenticated),
            "content_type": msg.get_content_type(),
            "headers": [[k, str(v)] for k, v in msg.items()],
            "parts": parts,
        }
        with open(os.path.join(self.out, f"{n}.eml.tmp"), "wb") as f:
            f.write(raw)
        with open(os.path.join(self.out, f"{n}.json.tmp"), "w") as f:
            json.dump(record, f)
        os.rename(os.path.join(self.out, f"{n}.eml.tmp"), os.path.join(self.out, f"{n}.eml"))
        os.rename(os.path.join(self.out, f"{n}.json.tmp"), os.path.join(self.out, f"{n}.json"))
        return "250 2.0.0 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["starttls", "implicit"], required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--fail-reply", default="451 4.3.0 try again later")
    a = ap.parse_args()

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == a.user.encode()
            and auth_data.password == a.password.encode()
        )
        return AuthResult(success=ok, handled=False)

    handler = Handler(a.out, a.fail_first, a.fail_reply)
    common = dict(
        hostname="127.0.0.1",
        authenticator=authenticator,
        auth_required=True,
        # aiosmtpd only counts STARTTLS as TLS for this check; implicit TLS is TLS from
        # the first byte, so AUTH needs no further requirement there.
        auth_require_tls=(a.mode == "starttls"),
    )
    last = None
    for _ in range(20):
        port = free_port()
        if a.mode == "starttls":
            c = Controller(handler, port=port, tls_context=ctx, require_starttls=True, **common)
        else:
            c = Controller(handler, port=port, ssl_context=ctx, **common)
        try:
            c.start()
            break
        except Exception as e:  # port taken meanwhile: try another
            last = e
            c = None
    if c is None:
        print(f"FAILED {last}", flush=True)
        sys.exit(1)
    print(f"READY {port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        c.stop()


if __name__ == "__main__":
    main()
