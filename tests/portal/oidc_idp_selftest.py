#!/usr/bin/python3
"""The test OpenID Provider (oidc_idp.py) on its own, without a joconde node: it is started in a
temporary directory, a relying party's whole authorization code flow with PKCE is run against it over
HTTPS (verified against the CA it wrote), each ID token's signature is checked against its JWKS, and
the refusals a relying party must meet are met: a wrong PKCE verifier, a code used twice or too late,
a wrong client secret, an unregistered redirect URI or client (an error page, never a redirect), a
request without PKCE, a cancelled log-in, a wrong password; the forged, expired and wrong-audience
tokens are what the node will be made to refuse. Its log must not hold a password, secret, code or
token. Runs on Debian's python3 with python3-cryptography.

Usage: tests/portal/oidc_idp_selftest.py   (exit code 0 only if every check passed)"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import warnings
from html.parser import HTMLParser
from typing import Any, Optional

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

HERE = os.path.dirname(os.path.abspath(__file__))
CODE_TTL = 3  # seconds: short, so that a code's expiry can be waited for
REDIRECT = "https://127.0.0.1:8443/v1/oidc/callback"
OTHER_REDIRECT = "https://127.0.0.1:8444/v1/oidc/callback"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Failed(Exception):
    pass


def check(ok: bool, what: str) -> None:
    if not ok:
        raise Failed(what)


class Form(HTMLParser):
    """The inputs, labels, buttons and alerts of a page."""

    def __init__(self, text: str):
        super().__init__()
        self.inputs: dict[str, dict[str, str]] = {}
        self.labels: list[str] = []
        self.buttons: list[dict[str, str]] = []
        self.alerts = 0
        self.lang = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang", "")
        elif tag == "input" and a.get("name"):
            self.inputs[a["name"]] = a
        elif tag == "label":
            self.labels.append(a.get("for", ""))
        elif tag == "button":
            self.buttons.append(a)
        if a.get("role") == "alert":
            self.alerts += 1


class Client:
    """A relying party's HTTPS calls, verified against the provider's CA; redirects not followed."""

    def __init__(self, port: int, ca: str, host: str = "127.0.0.1"):
        self.port = port
        self.host = host
        self.context = ssl.create_default_context(cafile=ca)
        self.tls_versions: set[str] = set()

    def call(self, method: str, path: str, form: Optional[dict[str, str]] = None,
             headers: Optional[dict[str, str]] = None, chunked: bool = False) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=10)
        body = urllib.parse.urlencode(form).encode() if form is not None else None
        all_headers = dict(headers or {})
        if body is not None:
            all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if chunked:  # in two chunks, as a client that streams its body sends it
            half = len(body) // 2
            body = iter([body[:half], body[half:]])
        conn.request(method, path, body=body, headers=all_headers, encode_chunked=chunked)
        self.tls_versions.add(conn.sock.version())
        res = conn.getresponse()
        data = res.read()
        conn.close()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, data

    def json(self, path: str) -> Any:
        status, _, data = self.call("GET", path)
        check(status == 200, f"GET {path} answered {status}")
        return json.loads(data)


def public_keys(jwks: dict[str, Any]) -> dict[str, Any]:
    """kid → public key, from a JWKS."""
    keys = {}
    for k in jwks["keys"]:
        if k["kty"] == "EC":
            check(k["crv"] == "P-256" and len(unb64url(k["x"])) == 32 and len(unb64url(k["y"])) == 32
                  and "=" not in k["x"] + k["y"], f"EC JWK {k}")
            keys[k["kid"]] = ec.EllipticCurvePublicNumbers(int.from_bytes(unb64url(k["x"]), "big"),
                                                           int.from_bytes(unb64url(k["y"]), "big"),
                                                           ec.SECP256R1()).public_key()
        elif k["kty"] == "RSA":
            keys[k["kid"]] = rsa.RSAPublicNumbers(int.from_bytes(unb64url(k["e"]), "big"),
                                                  int.from_bytes(unb64url(k["n"]), "big")).public_key()
        check(k.get("use") == "sig" and k.get("alg") in ("ES256", "RS256"), f"JWK {k['kid']} use/alg")
    return keys


def verify(token: str, keys: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a JWS compact token whose signature verifies; raises InvalidSignature."""
    head, payload, signature = token.split(".")
    header = json.loads(unb64url(head))
    key = keys[header["kid"]]
    data = f"{head}.{payload}".encode()
    sig = unb64url(signature)
    if header["alg"] == "ES256":
        check(len(sig) == 64, f"ES256 signature of {len(sig)} bytes, not R||S (64)")
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    elif header["alg"] == "RS256":
        key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        raise Failed(f"alg {header['alg']}")
    return header, json.loads(unb64url(payload))


def pkce() -> tuple[str, str]:
    verifier = b64url(secrets.token_bytes(32))
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


class Flow:
    """One relying party's run of the flow: authorize, log in, token."""

    def __init__(self, rp: Client, client_id: str = "client-b", redirect_uri: str = REDIRECT):
        self.rp = rp
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.state = b64url(secrets.token_bytes(16))
        self.nonce = b64url(secrets.token_bytes(16))
        self.verifier, self.challenge = pkce()

    def authorize_path(self, **override: Optional[str]) -> str:
        params = {"response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
                  "scope": "openid email profile", "state": self.state, "nonce": self.nonce,
                  "code_challenge": self.challenge, "code_challenge_method": "S256"}
        params.update(override)
        return "/authorize?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})

    def login_page(self) -> tuple[Form, str]:
        status, headers, body = self.rp.call("GET", self.authorize_path())
        check(status == 200, f"GET /authorize answered {status}: {body[:200]!r}")
        check(headers.get("content-type", "").startswith("text/html"), "the log-in page is not HTML")
        csp = headers.get("content-security-policy", "")
        check("form-action 'self' https://127.0.0.1:8443" in csp and "script-src" not in csp
              and "default-src 'none'" in csp, f"the log-in page's CSP: {csp}")
        page = Form(body.decode())
        check(page.lang == "en", "the log-in page has no lang")
        check({"username", "password"} <= set(page.labels), f"labels for {page.labels}")
        check([b.get("id") for b in page.buttons] == ["idp-submit", "idp-cancel"], f"buttons {page.buttons}")
        check(page.inputs["pending"]["type"] == "hidden", "no pending id in a hidden field")
        return page, page.inputs["pending"]["value"]

    def submit(self, pending: str, user: str, password: str, action: str = "login") -> tuple[int, dict[str, str], bytes]:
        return self.rp.call("POST", "/authorize", {"pending": pending, "username": user, "password": password,
                                                   "action": action})

    def code(self, user: str, password: str) -> str:
        _, pending = self.login_page()
        status, headers, _ = self.submit(pending, user, password)
        check(status == 303, f"the log-in of {user} answered {status}")
        back = urllib.parse.urlsplit(headers["location"])
        check(f"{back.scheme}://{back.netloc}{back.path}" == self.redirect_uri, f"redirected to {headers['location']}")
        q = dict(urllib.parse.parse_qsl(back.query))
        check(q.get("state") == self.state and q.get("code"), f"the redirect carries {sorted(q)}")
        return q["code"]

    def token(self, code: str, secret: str, *, verifier: Optional[str] = None, post: bool = False,
              redirect_uri: Optional[str] = None, chunked: bool = False) -> tuple[int, dict[str, Any]]:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri or self.redirect_uri,
                "code_verifier": verifier or self.verifier}
        headers = {}
        if post:
            form.update(client_id=self.client_id, client_secret=secret)
        else:
            pair = f"{urllib.parse.quote_plus(self.client_id)}:{urllib.parse.quote_plus(secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        status, h, body = self.rp.call("POST", "/token", form, headers, chunked)
        check(h.get("cache-control") == "no-store", "a token answer without Cache-Control: no-store")
        return status, json.loads(body)


def main() -> int:
    work = tempfile.mkdtemp(prefix="joconde-idp-selftest-")
    config = os.path.join(work, "idp.json")
    secret = "s3cret:with/odd+chars " + b64url(secrets.token_bytes(12))
    passwords = {u: b64url(secrets.token_bytes(12)) for u in ("olga", "rita", "mallory", "late", "stranger")}
    users = {
        "olga": {"sub": "u-olga", "email": "olga@example.org", "groups": ["stat-auditors"], "alg": "ES256"},
        "rita": {"sub": "u-rita", "email": "rita@example.org", "groups": ["stat-auditors", "x"], "alg": "RS256"},
        "mallory": {"sub": "u-mallory", "groups": ["stat-auditors"], "alg": "ES256", "forge": True},
        "late": {"sub": "u-late", "groups": ["stat-auditors"], "alg": "ES256", "expired": True},
        "stranger": {"sub": "u-stranger", "groups": [], "alg": "RS256", "audience": "someone-else"},
    }
    for name, u in users.items():
        u["password"] = passwords[name]
    doc = {"clients": {"client-b": {"secret": secret, "redirect_uris": [REDIRECT]},
                       "client-a": {"secret": "other-secret", "redirect_uris": [OTHER_REDIRECT]}}, "users": users}
    with open(config, "w") as f:
        json.dump(doc, f)
    idp = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "oidc_idp.py"), "--dir", os.path.join(work, "idp"),
                            "--config", config, "--code-ttl", str(CODE_TTL), "--exit-with-stdin"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    passed = 0
    failed = None
    try:
        ready = json.loads(idp.stdout.readline())
        rp = Client(ready["port"], ready["ca"])
        issuer = ready["issuer"]
        print(f"IdP at {issuer}, CA {ready['ca']}")

        def case(name: str, fn) -> None:
            nonlocal passed
            note = fn()
            passed += 1
            print(f"PASS  {name}{': ' + note if note else ''}")

        keys: dict[str, Any] = {}

        def discovery():
            d = rp.json("/.well-known/openid-configuration")
            check(d["issuer"] == issuer, f"issuer {d['issuer']}")
            for k, v in {"authorization_endpoint": "/authorize", "token_endpoint": "/token", "jwks_uri": "/jwks"}.items():
                check(d[k] == issuer + v, f"{k} {d[k]}")
            check(d["response_types_supported"] == ["code"], "response_types_supported")
            check(d["code_challenge_methods_supported"] == ["S256"], "code_challenge_methods_supported")
            check(set(d["id_token_signing_alg_values_supported"]) == {"ES256", "RS256"}, "algs")
            check(set(d["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"},
                  "auth methods")
            check("openid" in d["scopes_supported"] and d["subject_types_supported"], "scopes, subject types")
            keys.update(public_keys(rp.json("/jwks")))
            check(len(keys) == 2, f"{len(keys)} keys published")
            Client(ready["port"], ready["ca"], "localhost").json("/jwks")
            return f"{len(keys)} keys: {', '.join(sorted(keys))}; the certificate holds for 127.0.0.1 and localhost"

        def whole_flow():
            f = Flow(rp)
            status, t = f.token(f.code("olga", passwords["olga"]), secret)
            check(status == 200, f"token answered {status} {t}")
            check(t["token_type"] == "Bearer" and t["expires_in"] > 0 and t["access_token"], f"token answer {t}")
            header, claims = verify(t["id_token"], keys)
            check(header["alg"] == "ES256" and header["typ"] == "JWT", f"header {header}")
            now = time.time()
            check(claims["iss"] == issuer and claims["aud"] == "client-b" and claims["nonce"] == f.nonce, f"{claims}")
            check(claims["sub"] == "u-olga" and claims["preferred_username"] == "olga"
                  and claims["email"] == "olga@example.org" and claims["groups"] == ["stat-auditors"], f"{claims}")
            check(now - 5 <= claims["iat"] <= now + 5 and 250 <= claims["exp"] - now <= 305, f"iat/exp {claims}")
            check(claims["auth_time"] <= claims["iat"] + 1, "auth_time")
            at_hash = b64url(hashlib.sha256(t["access_token"].encode()).digest()[:16])
            check(claims["at_hash"] == at_hash, "at_hash")
            return "client_secret_basic (id and secret form-urlencoded), PKCE S256, ES256 id_token verified"

        def secret_post_rs256():
            f = Flow(rp)
            status, t = f.token(f.code("rita", passwords["rita"]), secret, post=True, chunked=True)
            check(status == 200, f"token answered {status} {t}")
            header, claims = verify(t["id_token"], keys)
            check(header["alg"] == "RS256" and claims["groups"] == ["stat-auditors", "x"], f"{header} {claims}")
            return "a chunked body; RS256 id_token verified"

        def wrong_verifier():
            f = Flow(rp)
            code = f.code("olga", passwords["olga"])
            status, t = f.token(code, secret, verifier=pkce()[0])
            check(status == 400 and t["error"] == "invalid_grant", f"{status} {t}")
            status2, t2 = f.token(code, secret)
            check(status2 == 400 and t2["error"] == "invalid_grant", f"the code was usable after a failed try: {status2}")
            return f"{status} {t['error']}: {t['error_description']}"

        def reused_code():
            f = Flow(rp)
            code = f.code("olga", passwords["olga"])
            check(f.token(code, secret)[0] == 200, "first use")
            status, t = f.token(code, secret)
            check(status == 400 and t["error"] == "invalid_grant", f"{status} {t}")
            return f"{status} {t['error']}"

        def expired_code():
            f = Flow(rp)
            code = f.code("olga", passwords["olga"])
            time.sleep(CODE_TTL + 1.5)
            status, t = f.token(code, secret)
            check(status == 400 and t["error"] == "invalid_grant", f"{status} {t}")
            return f"{CODE_TTL} s lifetime: {status} {t['error']}"

        def wrong_secret():
            f = Flow(rp)
            code = f.code("olga", passwords["olga"])
            status, t = f.token(code, secret + "x")
            check(status == 401 and t["error"] == "invalid_client", f"{status} {t}")
            status, t = f.token(code, "other-secret")  # another client's secret
            check(status == 401 and t["error"] == "invalid_client", f"{status} {t}")
            status, _, body = rp.call("POST", "/token", {"grant_type": "authorization_code", "code": code,
                                                         "redirect_uri": REDIRECT, "code_verifier": f.verifier})
            check(status == 401 and json.loads(body)["error"] == "invalid_client", f"no authentication: {status}")
            return "401 invalid_client (wrong secret, another client's secret, none)"

        def another_client():
            f = Flow(rp)
            code = f.code("olga", passwords["olga"])
            g = Flow(rp, "client-a", OTHER_REDIRECT)
            status, t = g.token(code, "other-secret", verifier=f.verifier)
            check(status == 400 and t["error"] == "invalid_grant", f"{status} {t}")
            return f"client-b's code at client-a: {status} {t['error']}"

        def token_redirect_mismatch():
            f = Flow(rp)
            status, t = f.token(f.code("olga", passwords["olga"]), secret, redirect_uri=REDIRECT + "x")
            check(status == 400 and t["error"] == "invalid_grant", f"{status} {t}")
            return f"{status} {t['error']}"

        def unregistered():
            said = []
            for what, path in [("unregistered redirect_uri", Flow(rp, "client-b", OTHER_REDIRECT).authorize_path()),
                               ("unknown client", Flow(rp, "client-z").authorize_path()),
                               ("no redirect_uri", Flow(rp).authorize_path(redirect_uri=None))]:
                status, headers, body = rp.call("GET", path)
                check(status == 400 and "location" not in headers and b"role=\"alert\"" in body,
                      f"{what}: {status} {headers.get('location')}")
                said.append(what)
            return f"an error page, no redirect: {', '.join(said)}"

        def bad_requests():
            said = []
            for what, override, error in [("no PKCE", {"code_challenge": None, "code_challenge_method": None},
                                           "invalid_request"),
                                          ("PKCE plain", {"code_challenge_method": "plain"}, "invalid_request"),
                                          ("no nonce", {"nonce": None}, "invalid_request"),
                                          ("no openid scope", {"scope": "email"}, "invalid_scope"),
                                          ("response_type token", {"response_type": "token"},
                                           "unsupported_response_type")]:
                f = Flow(rp)
                status, headers, _ = rp.call("GET", f.authorize_path(**override))
                check(status == 303, f"{what}: {status}")
                q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["location"]).query))
                check(headers["location"].startswith(REDIRECT + "?") and q.get("error") == error
                      and q.get("state") == f.state, f"{what}: {headers['location']}")
                said.append(what)
            return f"redirected with the OAuth error: {', '.join(said)}"

        def cancel_and_wrong_password():
            f = Flow(rp)
            _, pending = f.login_page()
            status, _, body = f.submit(pending, "olga", "wrong")
            page = Form(body.decode())
            check(status == 200 and page.alerts == 1 and page.inputs["username"].get("value") == "olga",
                  f"wrong password: {status}")
            status, _, _ = f.submit(pending, "nobody-here", passwords["olga"])
            check(status == 200, f"unknown user: {status}")
            status, headers, _ = f.submit(pending, "", "", action="cancel")
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers.get("location", "")).query))
            check(status == 303 and q.get("error") == "access_denied" and q.get("state") == f.state,
                  f"cancel: {status} {headers.get('location')}")
            status, headers, _ = f.submit(pending, "olga", passwords["olga"])
            check(status == 400 and "location" not in headers, f"the page's pending id outlived the cancel: {status}")
            return "wrong password and unknown user: the page again with an alert; Cancel: access_denied with state"

        def refusable_tokens():
            said = []
            f = Flow(rp)
            status, t = f.token(f.code("mallory", passwords["mallory"]), secret)
            check(status == 200, f"mallory: {status}")
            header = json.loads(unb64url(t["id_token"].split(".")[0]))
            check(header["kid"] in keys and header["alg"] == "ES256", f"forged header {header}")
            try:
                verify(t["id_token"], keys)
                raise Failed("the forged token verifies")
            except InvalidSignature:
                said.append(f"forged (kid {header['kid']} published, signature wrong)")
            f = Flow(rp)
            _, claims = verify(f.token(f.code("late", passwords["late"]), secret)[1]["id_token"], keys)
            check(claims["exp"] < time.time() - 60, f"late's exp {claims['exp']}")
            said.append("expired")
            f = Flow(rp)
            header, claims = verify(f.token(f.code("stranger", passwords["stranger"]), secret)[1]["id_token"], keys)
            check(claims["aud"] == "someone-else" and claims["groups"] == [] and header["alg"] == "RS256", f"{claims}")
            said.append("wrong audience, no group")
            return ", ".join(said)

        def tls():
            check(rp.tls_versions <= {"TLSv1.2", "TLSv1.3"}, f"TLS versions {rp.tls_versions}")
            v12 = Client(ready["port"], ready["ca"])
            v12.context.maximum_version = ssl.TLSVersion.TLSv1_2
            v12.json("/jwks")
            check(v12.tls_versions == {"TLSv1.2"}, f"a TLS 1.2 client got {v12.tls_versions}")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                old = ssl.create_default_context(cafile=ready["ca"])
                old.minimum_version = ssl.TLSVersion.TLSv1
                old.maximum_version = ssl.TLSVersion.TLSv1_1
            try:
                old.set_ciphers("DEFAULT:@SECLEVEL=0")
                c = http.client.HTTPSConnection("127.0.0.1", ready["port"], context=old, timeout=5)
                c.request("GET", "/jwks")
                c.getresponse()
                raise Failed("a TLS 1.1 connection was accepted")
            except (ssl.SSLError, OSError):
                pass
            status, _, _ = Client(ready["port"], ready["ca"]).call("GET", "/nothing")
            check(status == 404, f"/nothing: {status}")
            return f"{', '.join(sorted(rp.tls_versions))} and TLSv1.2 negotiated; a TLS 1.1 client gets no connection"

        for name, fn in [("discovery and JWKS", discovery), ("the whole flow", whole_flow),
                         ("client_secret_post, RS256, chunked", secret_post_rs256), ("twin: wrong PKCE verifier", wrong_verifier),
                         ("twin: a code used twice", reused_code), ("twin: a code used too late", expired_code),
                         ("twin: wrong client secret", wrong_secret), ("twin: another client's code", another_client),
                         ("twin: token redirect_uri differs", token_redirect_mismatch),
                         ("twin: unregistered redirect_uri or client", unregistered),
                         ("twin: malformed authorization requests", bad_requests),
                         ("twin: wrong password, Cancel", cancel_and_wrong_password),
                         ("the tokens a node must refuse", refusable_tokens), ("TLS", tls)]:
            case(name, fn)

        def stops():
            idp.send_signal(signal.SIGTERM)
            code = idp.wait(10)
            check(code == 0, f"exit code {code} after SIGTERM")
            err = idp.stderr.read()
            leaks = [w for w in [secret, "other-secret", *passwords.values()] if w in err]
            leaks += re.findall(r"code=|state=|nonce=|eyJ", err)
            check(not leaks, f"the log holds {leaks}")
            lines = err.strip().split("\n")
            check(any("\"POST /token\" 200" in line for line in lines), "no request lines in the log")
            return f"exit code 0; {len(lines)} log lines without password, secret, code, state or token"

        case("SIGTERM, and the log", stops)
    except Exception as e:  # noqa: BLE001 — every failure is reported the same way
        failed = e
        print(f"FAIL  {type(e).__name__}: {e}")
    finally:
        if idp.poll() is None:
            idp.send_signal(signal.SIGTERM)
            try:
                idp.wait(10)
            except subprocess.TimeoutExpired:
                idp.kill()
            if failed:
                sys.stderr.write(idp.stderr.read()[-3000:])
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'FAILED' if failed else 'PASSED'}: {passed} check(s) passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
