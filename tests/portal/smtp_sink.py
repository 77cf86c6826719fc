#!/usr/bin/python3
"""A real SMTP server for the portal's browser test (aiosmtpd, Debian's python3-aiosmtpd): it listens
on 127.0.0.1, offers STARTTLS with a certificate it makes at start (its own CA, written next to the
messages for the nodes' mail.ca), refuses MAIL before STARTTLS and authentication, accepts only
USER/PASSWORD, and writes each message it receives to DIR/NNNN.json ({mail_from, rcpt_tos, data}).

Usage: smtp_sink.py DIR USER PASSWORD_FILE [PORT]
Prints one line `ready PORT CA_FILE` when it listens; stops on SIGTERM or when stdin closes."""

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def make_certificate(out_dir: str) -> tuple[str, str, str]:
    """A CA and a server certificate for 127.0.0.1 (openssl), in `out_dir`: (ca, cert, key)."""
    ca_key, ca, key, csr, cert = (os.path.join(out_dir, n) for n in
                                  ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    ext = os.path.join(out_dir, "server.ext")
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
        "-subj", "/CN=joconde test SMTP CA", "-keyout", ca_key, "-out", ca)
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", key, "-out", csr)
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
        "-extfile", ext, "-out", cert)
    return ca, cert, key


class Store:
    """Writes every accepted message as DIR/NNNN.json."""

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            path = os.path.join(self.out_dir, f"{self.count:04d}.json")
        doc = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
               "data": envelope.content.decode("utf-8", "replace"),
               "tls": session.ssl is not None, "authenticated": bool(session.authenticated)}
        with open(path + ".tmp", "w") as f:
            json.dump(doc, f)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main() -> int:
    out_dir, user, password_file = sys.argv[1:4]
    fixed_port = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    with open(password_file) as f:
        password = f.read().strip()
    os.makedirs(out_dir, exist_ok=True)
    tls_dir = os.path.join(out_dir, "tls")
    os.makedirs(tls_dir, exist_ok=True)
    ca, cert, key = (os.path.join(tls_dir, n) for n in ("ca.pem", "server.pem", "server.key"))
    if not all(os.path.exists(p) for p in (ca, cert, key)):  # made once per DIR (a restart keeps them)
        ca, cert, key = make_certificate(tls_dir)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
              and auth_data.password.decode() == password)
        return AuthResult(success=ok)

    # aiosmtpd's controller cannot listen on port 0: a port the kernel just gave out and took back.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", fixed_port))
        port = probe.getsockname()[1]
    controller = Controller(Store(out_dir), hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, auth_require_tls=True, auth_required=True,
                            authenticator=authenticate)
    controller.start()
    print(f"ready {port} {ca}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
