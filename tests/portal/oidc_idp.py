#!/usr/bin/python3
"""A real OpenID Provider for the portal's tests (authorization code flow with PKCE S256, confidential
clients), on Debian's python3 with the standard library and python3-cryptography only.

It listens on 127.0.0.1 over HTTPS only (TLS 1.2 or later), with a certificate for IP 127.0.0.1 and DNS
localhost issued by a CA it makes at start (EC P-256; DIR/ca.pem is that CA for the relying party's
`ca` and the browser's trust store). It signs ID tokens with an ES256 key and an RS256 key, both
published at /jwks, and keeps a third, rogue ES256 key under the published ES256 key's kid: a user
with "forge" gets an ID token whose only fault is its signature.

Clients and users come from the JSON file CONFIG, read again at every request (a test writes it once
the relying parties' ports are known):
  {"clients": {"client-a": {"secret": "...", "redirect_uris": ["https://127.0.0.1:8443/v1/oidc/callback"]}},
   "users": {"olga": {"password": "...", "sub": "...", "email": "...", "groups": ["stat-auditors"],
                      "alg": "ES256" | "RS256", "forge": false, "audience": null, "expired": false}}}
"audience" (a string or a list) replaces the token's aud; "expired" makes its exp lie in the past.

Usage: oidc_idp.py --dir DIR --config CONFIG [--port PORT] [--code-ttl SECONDS] [--exit-with-stdin]
Prints one JSON line {"ready": true, "port", "issuer", "ca"} on stdout when it listens; logs one line
per request on stderr (method, path without its query, status: never a password, code or token);
stops on SIGTERM, SIGINT, or with --exit-with-stdin when its stdin closes."""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import hmac
import html
import ipaddress
import json
import os
import re
import secrets
import signal
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"
ID_TOKEN_SECONDS = 300
ACCESS_TOKEN_SECONDS = 300
PENDING_SECONDS = 600          # how long the log-in page of one authorization request stays valid
MAX_BODY_BYTES = 64 * 1024     # a form or token request larger than this is refused
MAX_CONFIG_BYTES = 1 << 20
SOCKET_TIMEOUT_SECONDS = 30
VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636 4.1
CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")        # BASE64URL(SHA-256), unpadded
STYLE = """:root { font-family: system-ui, sans-serif; line-height: 1.5; color: #1b1f24; background: #f3f5f7; }
body { margin: 0; }
header { background: #3b1f5c; color: #fff; padding: 0.5rem 1.5rem; }
header p { margin: 0; font-weight: 700; font-size: 1.2rem; }
main { max-width: 32rem; margin: 2rem auto; padding: 1rem 1.5rem; background: #fff; border: 1px solid #c9d1d9; border-radius: 6px; }
.field { display: flex; flex-direction: column; gap: 0.25rem; margin: 0.75rem 0; }
label { font-weight: 600; }
input { font: inherit; padding: 0.4rem 0.5rem; border: 1px solid #4a5560; border-radius: 4px; }
.actions { display: flex; gap: 0.75rem; margin: 1rem 0 0.5rem; }
button { font: inherit; padding: 0.45rem 1rem; border-radius: 4px; border: 1px solid #3b1f5c; background: #3b1f5c; color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: #3b1f5c; }
:focus-visible { outline: 3px solid #f0a000; outline-offset: 2px; }
.error { color: #a3161b; font-weight: 600; }
.hint { color: #4a5560; }
"""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def log(line: str) -> None:
    print(f"oidc_idp: {line}", file=sys.stderr, flush=True)


# -- keys and certificates ---------------------------------------------------------------------------

def make_tls(out_dir: str) -> tuple[str, str, str]:
    """A CA and a server certificate for 127.0.0.1 and localhost signed by it, in `out_dir`:
    (ca, cert, key). The keys are written 0600 and live only as long as `out_dir`."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "joconde test OpenID Provider CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=True, crl_sign=True,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(ca_ski, critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST)),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tuple(os.path.join(out_dir, n) for n in ("ca.pem", "server.pem", "server.key"))
    pem = serialization.Encoding.PEM
    write(paths[0], ca_cert.public_bytes(pem), 0o644)
    write(paths[1], cert.public_bytes(pem) + ca_cert.public_bytes(pem), 0o644)
    write(paths[2], key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), 0o600)
    return paths


def write(path: str, data: bytes, mode: int) -> None:
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)


class SigningKey:
    """A key that signs ID tokens (JWS compact serialisation): ES256 or RS256, with its kid."""

    def __init__(self, alg: str, kid: str, private):
        self.alg, self.kid, self.private = alg, kid, private

    @staticmethod
    def make(alg: str, kid: Optional[str] = None) -> "SigningKey":
        kid = kid or b64url(secrets.token_bytes(9))
        if alg == "ES256":
            return SigningKey(alg, kid, ec.generate_private_key(ec.SECP256R1()))
        return SigningKey(alg, kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        """The public key as a JWK (RFC 7517/7518): coordinates and modulus big-endian, base64url."""
        numbers = self.private.public_key().public_numbers()
        if self.alg == "ES256":
            return {"kty": "EC", "crv": "P-256", "x": b64url(numbers.x.to_bytes(32, "big")),
                    "y": b64url(numbers.y.to_bytes(32, "big")), "kid": self.kid, "alg": "ES256", "use": "sig"}
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
        return {"kty": "RSA", "n": b64url(n), "e": b64url(e), "kid": self.kid, "alg": "RS256", "use": "sig"}

    def sign_jwt(self, claims: dict[str, Any]) -> str:
        header = {"alg": self.alg, "kid": self.kid, "typ": "JWT"}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                         + b64url(json.dumps(claims, separators=(",", ":")).encode())).encode("ascii")
        if self.alg == "ES256":
            r, s = decode_dss_signature(self.private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JWS wants R || S, not DER
        else:
            signature = self.private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return signing_input.decode("ascii") + "." + b64url(signature)


# -- the provider's state ----------------------------------------------------------------------------

class Provider:
    """What the provider knows between requests: its keys, the log-in pages it showed (pending
    authorization requests) and the codes it gave out, each with an expiry."""

    def __init__(self, issuer: str, config_path: str, code_ttl: int):
        self.issuer = issuer
        self.config_path = config_path
        self.code_ttl = code_ttl
        self.keys = {"ES256": SigningKey.make("ES256"), "RS256": SigningKey.make("RS256")}
        # Not published: same kid as the published ES256 key, so only the signature gives it away.
        self.rogue = SigningKey.make("ES256", self.keys["ES256"].kid)
        self.lock = threading.Lock()
        self.pending: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}

    def config(self) -> dict[str, Any]:
        """The clients and users, read anew; raises ValueError when the file is missing or malformed."""
        try:
            with open(self.config_path, "rb") as f:
                raw = f.read(MAX_CONFIG_BYTES + 1)
        except FileNotFoundError:
            raise ValueError("no configuration yet") from None
        if len(raw) > MAX_CONFIG_BYTES:
            raise ValueError("configuration too large")
        doc = json.loads(raw)
        if not isinstance(doc, dict) or not isinstance(doc.get("clients"), dict) or not isinstance(doc.get("users"), dict):
            raise ValueError("configuration without clients and users")
        return doc

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256", "RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "email", "profile"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "email",
                                 "preferred_username", "groups"],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.keys["ES256"].jwk(), self.keys["RS256"].jwk()]}

    def expire(self) -> None:
        now = time.time()
        with self.lock:
            for table in (self.pending, self.codes):
                for k in [k for k, v in table.items() if v["expires"] < now]:
                    del table[k]

    def add_pending(self, request: dict[str, Any]) -> str:
        pending_id = secrets.token_urlsafe(24)
        with self.lock:
            self.pending[pending_id] = {**request, "expires": time.time() + PENDING_SECONDS}
        return pending_id

    def take_pending(self, pending_id: str, keep: bool) -> Optional[dict[str, Any]]:
        self.expire()
        with self.lock:
            request = self.pending.get(pending_id)
            if request is not None and not keep:
                del self.pending[pending_id]
        return request

    def add_code(self, request: dict[str, Any], user: str) -> str:
        code = secrets.token_urlsafe(32)
        with self.lock:
            self.codes[code] = {**request, "user": user, "auth_time": int(time.time()),
                                "expires": time.time() + self.code_ttl, "used": False}
        return code

    def redeem(self, code: str) -> Optional[dict[str, Any]]:
        """The grant of `code`, marked used; None when unknown, expired or used before (single use:
        a second attempt fails even within its lifetime)."""
        self.expire()
        with self.lock:
            grant = self.codes.get(code)
            if grant is None or grant["used"]:
                return None
            grant["used"] = True
            return dict(grant)

    def id_token(self, grant: dict[str, Any], user: dict[str, Any], access_token: str) -> tuple[str, str]:
        """The signed ID token of `grant` for `user` and the alg it is signed with."""
        now = int(time.time())
        alg = user.get("alg") or "ES256"
        if alg not in self.keys:
            raise ValueError(f"user alg {alg!r} is neither ES256 nor RS256")
        key = self.rogue if user.get("forge") else self.keys[alg]
        if user.get("forge") and alg != "ES256":
            raise ValueError("forge needs alg ES256")
        audience = user.get("audience")
        claims = {
            "iss": self.issuer,
            "sub": str(user.get("sub") or grant["user"]),
            "aud": audience if audience is not None else grant["client_id"],
            "exp": now - 300 if user.get("expired") else now + ID_TOKEN_SECONDS,
            "iat": now - 600 if user.get("expired") else now,
            "auth_time": grant["auth_time"],
            "nonce": grant["nonce"],
            "at_hash": b64url(hashlib.sha256(access_token.encode()).digest()[:16]),
            "email": user.get("email") or f"{grant['user']}@example.org",
            "email_verified": True,
            "preferred_username": user.get("preferred_username") or grant["user"],
            "groups": list(user.get("groups") or []),
        }
        return key.sign_jwt(claims), alg


# -- pages -------------------------------------------------------------------------------------------

def page(title: str, *body: str) -> bytes:
    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)} — Test Identity Provider</title>\n"
            "<link rel=\"stylesheet\" href=\"/style.css\">\n</head>\n<body>\n"
            "<header><p>Test Identity Provider</p></header>\n"
            f"<main>\n<h1>{html.escape(title)}</h1>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n").encode()


def login_page(pending_id: str, request: dict[str, Any], error: str = "", user: str = "") -> bytes:
    said = (f"<p class=\"error\" role=\"alert\" id=\"idp-error\">{html.escape(error)}</p>" if error else "")
    return page(
        "Log in",
        f"<p><strong>{html.escape(request['client_id'])}</strong> asks who you are. Log in with your "
        "organisation's account to go back there.</p>",
        said,
        "<form method=\"post\" action=\"/authorize\" id=\"idp-login\">",
        f"<input type=\"hidden\" name=\"pending\" value=\"{html.escape(pending_id)}\">",
        "<div class=\"field\"><label for=\"username\">User name</label>"
        f"<input type=\"text\" id=\"username\" name=\"username\" value=\"{html.escape(user)}\" "
        "autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required></div>",
        "<div class=\"field\"><label for=\"password\">Password</label>"
        "<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>"
        "</div>",
        "<div class=\"actions\">"
        "<button type=\"submit\" name=\"action\" value=\"login\" id=\"idp-submit\">Log in</button>"
        "<button type=\"submit\" name=\"action\" value=\"cancel\" id=\"idp-cancel\" class=\"secondary\" "
        "formnovalidate>Cancel</button></div>",
        "</form>")


def with_query(uri: str, params: dict[str, str]) -> str:
    parts = urllib.parse.urlsplit(uri)
    query = "&".join(p for p in (parts.query, urllib.parse.urlencode(params)) if p)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def origin_of(uri: str) -> str:
    parts = urllib.parse.urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


# -- HTTP --------------------------------------------------------------------------------------------

class Refusal(Exception):
    """An OAuth error answered as JSON by the token endpoint (RFC 6749 5.2)."""

    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "joconde-test-idp"
    sys_version = ""
    timeout = SOCKET_TIMEOUT_SECONDS
    provider: Provider  # set on the class by main()
    used_page = "This log-in page has expired or was used already: go back to the application and start again."

    # -- plumbing --

    def log_request(self, code="-", size="-"):
        path = str(getattr(self, "path", "?")).split("?", 1)[0]
        log(f"{self.client_address[0]} \"{getattr(self, 'command', None)} {path}\" {code}")

    def log_message(self, fmt, *args):
        pass  # what matters is said by log_request and the handlers (without query strings)

    def log_error(self, fmt, *args):
        log("error: " + (fmt % args).split("?", 1)[0])

    def answer(self, status: int, body: bytes, content_type: str, headers: Optional[dict[str, str]] = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Pragma", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def json(self, status: int, doc: Any, headers: Optional[dict[str, str]] = None):
        self.answer(status, json.dumps(doc, indent=1).encode(), "application/json", headers)

    def html(self, status: int, body: bytes, form_to: str = ""):
        # No script at all; the form may go here, and from here to the relying party (Chromium holds
        # a redirect after a form's POST to the form-action of the page that sent it).
        csp = ("default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
               f"form-action 'self'{' ' + form_to if form_to else ''}")
        self.answer(status, body, "text/html; charset=utf-8",
                    {"Content-Security-Policy": csp, "X-Frame-Options": "DENY"})

    def redirect(self, location: str):
        self.answer(303, b"", "text/plain; charset=utf-8", {"Location": location})

    def error_page(self, status: int, why: str):
        log(f"authorize refused: {why}")
        self.html(status, page("Log-in request refused",
                               f"<p class=\"error\" role=\"alert\" id=\"idp-refused\">{html.escape(why)}</p>",
                               "<p class=\"hint\">The application that sent you here made a request this "
                               "identity provider does not accept. Go back to it and tell its administrator.</p>"))

    def body(self) -> bytes:
        """The request's body, by its Content-Length or chunked (RFC 9112 7.1), at most MAX_BODY_BYTES."""
        if self.headers.get("Transfer-Encoding", "").strip().lower() == "chunked":
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(64)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise Refusal(400, "invalid_request", "a malformed chunk") from None
                total += size
                if size < 0 or total > MAX_BODY_BYTES:
                    raise Refusal(413, "invalid_request", "the body is too large")
                if size == 0:
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
            for _ in range(32):  # trailer fields, up to the empty line
                if self.rfile.readline(1024) in (b"\r\n", b"\n", b""):
                    break
            return b"".join(chunks)
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise Refusal(411, "invalid_request", "a Content-Length or chunked body is required") from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise Refusal(413, "invalid_request", "the body is too large")
        return self.rfile.read(length)

    def form(self) -> dict[str, str]:
        """The body of a POST as a form (application/x-www-form-urlencoded), each name at most once."""
        kind = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise Refusal(400, "invalid_request", "the body must be application/x-www-form-urlencoded")
        pairs = urllib.parse.parse_qsl(self.body().decode("utf-8", "replace"), keep_blank_values=True,
                                       max_num_fields=32)
        names = [n for n, _ in pairs]
        if len(names) != len(set(names)):
            raise Refusal(400, "invalid_request", "a parameter is repeated")
        return dict(pairs)

    # -- routes --

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        try:
            if url.path == "/.well-known/openid-configuration":
                self.json(200, self.provider.discovery())
            elif url.path == "/jwks":
                self.json(200, self.provider.jwks())
            elif url.path == "/authorize":
                self.authorize(url.query)
            elif url.path == "/style.css":
                self.answer(200, STYLE.encode(), "text/css; charset=utf-8")
            else:
                self.json(404, {"error": "not_found"})
        except ValueError as e:  # the configuration file
            log(f"unavailable: {e}")
            self.json(503, {"error": "temporarily_unavailable", "error_description": str(e)})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        try:
            if url.path == "/token":
                self.token()
            elif url.path == "/authorize":
                self.log_in()
            else:
                self.json(404, {"error": "not_found"})
        except Refusal as e:
            log(f"{url.path} refused: {e.error} ({e.description})")
            extra = {"WWW-Authenticate": "Basic realm=\"token\""} if e.status == 401 else None
            self.json(e.status, {"error": e.error, "error_description": e.description}, extra)
        except ValueError as e:
            log(f"unavailable: {e}")
            self.json(503, {"error": "temporarily_unavailable", "error_description": str(e)})

    def authorize(self, query: str):
        """GET /authorize: the authorization request checked (client and redirect URI first: an
        error there is shown here, never sent to a URI not registered), then the log-in page."""
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, max_num_fields=32)
        names = [n for n, _ in pairs]
        params = dict(pairs)
        clients = self.provider.config()["clients"]
        client_id = params.get("client_id", "")
        client = clients.get(client_id)
        if not isinstance(client, dict):
            return self.error_page(400, f"Unknown client_id {client_id!r}.")
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in (client.get("redirect_uris") or []):
            return self.error_page(400, f"The redirect_uri {redirect_uri!r} is not registered for client {client_id}.")
        if len(names) != len(set(names)):
            return self.error_page(400, "A parameter of the request is repeated.")
        state = params.get("state", "")

        def refuse(error: str, why: str):
            log(f"authorize refused: {error} ({why})")
            answer = {"error": error, "error_description": why}
            if state:
                answer["state"] = state
            self.redirect(with_query(redirect_uri, answer))

        if params.get("response_type") != "code":
            return refuse("unsupported_response_type", "response_type must be code")
        if "openid" not in params.get("scope", "").split(" "):
            return refuse("invalid_scope", "scope must contain openid")
        if params.get("code_challenge_method") != "S256":
            return refuse("invalid_request", "code_challenge_method must be S256")
        if not CHALLENGE.match(params.get("code_challenge", "")):
            return refuse("invalid_request", "code_challenge must be BASE64URL(SHA-256(code_verifier))")
        if not state:
            return refuse("invalid_request", "state is required")
        if not params.get("nonce"):
            return refuse("invalid_request", "nonce is required")
        request = {k: params[k] for k in ("client_id", "redirect_uri", "state", "nonce", "code_challenge", "scope")}
        pending_id = self.provider.add_pending(request)
        log(f"authorize: log-in page for client {client_id}")
        self.html(200, login_page(pending_id, request), origin_of(redirect_uri))

    def log_in(self):
        """POST /authorize: the log-in page's form. Cancel goes back with access_denied; a wrong user
        or password shows the page again; the right one goes back with a code."""
        try:
            form = self.form()
        except Refusal as e:
            return self.error_page(e.status, e.description)
        cancel = form.get("action") == "cancel"
        pending_id = form.get("pending", "")
        request = self.provider.take_pending(pending_id, keep=not cancel)
        if request is None:
            return self.error_page(400, self.used_page)
        back = origin_of(request["redirect_uri"])
        if cancel:
            log(f"log-in cancelled for client {request['client_id']}")
            return self.redirect(with_query(request["redirect_uri"],
                                            {"error": "access_denied", "error_description": "the user cancelled",
                                             "state": request["state"]}))
        name = form.get("username", "").strip()
        user = self.provider.config()["users"].get(name)
        given = form.get("password", "").encode()
        expected = str(user.get("password", "")).encode() if isinstance(user, dict) else secrets.token_bytes(16)
        if not isinstance(user, dict) or not hmac.compare_digest(given, expected):
            log(f"log-in refused for client {request['client_id']}: unknown user or wrong password")
            return self.html(200, login_page(pending_id, request, "Unknown user or wrong password. Try again.",
                                             name), back)
        if self.provider.take_pending(pending_id, keep=False) is None:  # a second tab was quicker
            return self.error_page(400, self.used_page)
        code = self.provider.add_code(request, name)
        log(f"log-in: {name} for client {request['client_id']}")
        self.redirect(with_query(request["redirect_uri"], {"code": code, "state": request["state"]}))

    def client(self, form: dict[str, str]) -> str:
        """The client the token request authenticates (client_secret_basic or client_secret_post,
        exactly one of them), compared in constant time."""
        header = self.headers.get("Authorization", "")
        posted = "client_secret" in form
        if header and posted:
            raise Refusal(400, "invalid_request", "more than one client authentication method")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "basic":
                raise Refusal(401, "invalid_client", "client authentication must be Basic")
            try:
                pair = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise Refusal(401, "invalid_client", "malformed Basic credentials") from None
            raw_id, sep, raw_secret = pair.partition(":")
            if not sep:
                raise Refusal(401, "invalid_client", "malformed Basic credentials")
            # RFC 6749 2.3.1: both form-urlencoded before they are joined.
            client_id, secret = urllib.parse.unquote_plus(raw_id), urllib.parse.unquote_plus(raw_secret)
            method = "client_secret_basic"
            if form.get("client_id", client_id) != client_id:
                raise Refusal(400, "invalid_request", "client_id in the body differs from the authenticated one")
        elif posted:
            client_id, secret, method = form.get("client_id", ""), form["client_secret"], "client_secret_post"
        else:
            raise Refusal(401, "invalid_client", "no client authentication")
        client = self.provider.config()["clients"].get(client_id)
        expected = str(client.get("secret", "")).encode() if isinstance(client, dict) else secrets.token_bytes(32)
        if not isinstance(client, dict) or not expected or not hmac.compare_digest(secret.encode(), expected):
            raise Refusal(401, "invalid_client", f"unknown client or wrong secret ({method})")
        log(f"token: client {client_id} authenticated by {method}")
        return client_id

    def token(self):
        """POST /token: a code exchanged for an ID token (RFC 6749 4.1.3, RFC 7636 4.6)."""
        form = self.form()
        client_id = self.client(form)
        if form.get("grant_type") != "authorization_code":
            raise Refusal(400, "unsupported_grant_type", "grant_type must be authorization_code")
        grant = self.provider.redeem(form.get("code", ""))
        if grant is None:
            raise Refusal(400, "invalid_grant", "the code is unknown, expired or used already")
        if grant["client_id"] != client_id:
            raise Refusal(400, "invalid_grant", "the code was issued to another client")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            raise Refusal(400, "invalid_grant", "redirect_uri differs from the authorization request's")
        verifier = form.get("code_verifier", "")
        if not VERIFIER.match(verifier):
            raise Refusal(400, "invalid_grant", "code_verifier must be 43 to 128 unreserved characters")
        if not hmac.compare_digest(b64url(hashlib.sha256(verifier.encode("ascii")).digest()), grant["code_challenge"]):
            raise Refusal(400, "invalid_grant", "PKCE: BASE64URL(SHA-256(code_verifier)) is not the code_challenge")
        user = self.provider.config()["users"].get(grant["user"])
        if not isinstance(user, dict):
            raise Refusal(400, "invalid_grant", "the user no longer exists")
        access_token = secrets.token_urlsafe(32)
        id_token, alg = self.provider.id_token(grant, user, access_token)
        log(f"token: issued to client {client_id} for {grant['user']} ({alg}{', forged' if user.get('forge') else ''}"
            f"{', expired' if user.get('expired') else ''}{', audience replaced' if user.get('audience') is not None else ''})")
        self.json(200, {"access_token": access_token, "token_type": "Bearer", "expires_in": ACCESS_TOKEN_SECONDS,
                        "scope": grant["scope"], "id_token": id_token})


class Server(ThreadingHTTPServer):
    """Each connection in its own thread, its TLS handshake there too (a slow peer holds up no one)."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, context: ssl.SSLContext):
        super().__init__(address, Handler)
        self.context = context

    def finish_request(self, request, client_address):
        request.settimeout(SOCKET_TIMEOUT_SECONDS)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log(f"{client_address[0]} TLS handshake failed: {getattr(e, 'reason', None) or e}")
            return
        try:
            Handler(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        log(f"{client_address[0]} connection error: {sys.exc_info()[1]!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True, help="where the CA, the TLS key and certificate are written")
    parser.add_argument("--config", required=True, help="JSON file of clients and users, read at every request")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: one the kernel chooses)")
    parser.add_argument("--code-ttl", type=int, default=60, help="seconds an authorization code is valid (60)")
    parser.add_argument("--exit-with-stdin", action="store_true", help="stop when stdin closes")
    args = parser.parse_args()
    if not 1 <= args.code_ttl <= 600:
        parser.error("--code-ttl must be 1 to 600")

    os.makedirs(args.dir, mode=0o700, exist_ok=True)
    ca, cert, key = make_tls(args.dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)

    server = Server((HOST, args.port), context)
    port = server.server_address[1]
    issuer = f"https://{HOST}:{port}"
    Handler.provider = Provider(issuer, os.path.abspath(args.config), args.code_ttl)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.exit_with_stdin:
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    print(json.dumps({"ready": True, "port": port, "issuer": issuer, "ca": os.path.abspath(ca)}), flush=True)
    log(f"listening at {issuer}; ES256 kid {Handler.provider.keys['ES256'].kid}, "
        f"RS256 kid {Handler.provider.keys['RS256'].kid}")
    stop.wait()
    server.shutdown()
    server.server_close()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
