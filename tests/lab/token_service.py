#!/usr/bin/env python3
"""The lab's registry token service: Docker's token authentication, as a registry's realm serves it.

GET /auth?service=S&scope=repository:NAME:ACTIONS answers {"token": JWT} signed with RS256 by the
key whose certificate the registry trusts (its rootcertbundle; the JWT header's "kid" is libtrust's
key id of that key). Anonymous requests get "pull" only; Basic lab:lab (the lab seeding the image)
gets "pull,push". With the file NO_ANON_FLAG present, anonymous requests are refused with 401, as
a registry that does not allow anonymous pulls refuses them.

Standard library only; the signature is made by `openssl dgst -sha256 -sign`.

    token_service.py ADDR CERT KEY SIGNING_KEY ISSUER NO_ANON_FLAG
"""

import base64
import hashlib
import http.server
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.parse


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_kid(signing_key: str) -> str:
    """libtrust's key id: the SHA-256 of the DER public key, 240 bits in base32, groups of four."""
    der = subprocess.run(
        ["openssl", "pkey", "-in", signing_key, "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, 48, 4))


def main() -> None:
    addr, cert, key, signing_key, issuer, no_anon = sys.argv[1:7]
    kid = libtrust_kid(signing_key)

    def sign(claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "kid": kid}
        signing_input = (
            b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        )
        sig = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", signing_key],
            input=signing_input.encode(),
            check=True,
            capture_output=True,
        ).stdout
        return signing_input + "." + b64url(sig)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def answer(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 (http.server's name)
            url = urllib.parse.urlparse(self.path)
            if url.path != "/auth":
                self.answer(404, {"error": "not found"})
                return
            q = urllib.parse.parse_qs(url.query)
            service = q.get("service", [""])[0]
            user = ""
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                try:
                    user = base64.b64decode(auth[6:]).decode()
                except ValueError:
                    user = "?"
                if user != "lab:lab":
                    self.answer(401, {"errors": [{"code": "UNAUTHORIZED"}]})
                    return
            elif os.path.exists(no_anon):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="lab token service"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            allowed = {"pull", "push"} if user else {"pull"}
            access = []
            for scope in q.get("scope", []):
                parts = scope.split(":")
                if len(parts) == 3 and parts[0] == "repository":
                    actions = [a for a in parts[2].split(",") if a in allowed]
                    access.append({"type": "repository", "name": parts[1], "actions": actions})
            now = int(time.time())
            token = sign(
                {
                    "iss": issuer,
                    "sub": user.split(":")[0],
                    "aud": service,
                    "exp": now + 600,
                    "nbf": now - 60,
                    "iat": now,
                    "jti": b64url(os.urandom(12)),
                    "access": access,
                }
            )
            self.answer(200, {"token": token, "access_token": token, "expires_in": 600})

    server = http.server.ThreadingHTTPServer((addr, 443), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"token service listening on {addr}:443 (kid {kid})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
