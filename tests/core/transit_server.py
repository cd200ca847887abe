"""A small HTTP server speaking the part of HashiCorp Vault's Transit API that Konsil uses (keys, rotate, encrypt,
decrypt, hmac), with Vault's wire format and error shapes. No Vault binary can be installed here (no internet);
the hvac client, its HTTP and Konsil's provider are the real ones."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class Transit:
    def __init__(self, token: str):
        self.token = token
        self.keys: dict[str, list[bytes]] = {}
        self.calls: list[str] = []

    def handle(self, method: str, path: str, token: str, body: dict) -> tuple[int, dict]:
        self.calls.append(f"{method} {path}")
        if token != self.token:
            return 403, {"errors": ["permission denied"]}
        parts = path.strip("/").split("/")  # v1 transit <op> <name> [...]
        if len(parts) < 4 or parts[:2] != ["v1", "transit"]:
            return 404, {"errors": []}
        op, name = parts[2], parts[3]
        if op == "keys" and method == "POST" and len(parts) == 5 and parts[4] == "rotate":
            self.keys.setdefault(name, []).append(os.urandom(32))
            return 204, {}
        if op == "keys" and method == "POST":
            self.keys.setdefault(name, [os.urandom(32)])
            return 204, {}
        versions = self.keys.get(name)
        if versions is None:
            return 400, {"errors": ["encryption key not found"]}
        if op == "keys":
            return 200, {"data": {"latest_version": len(versions), "min_decryption_version": 1,
                                  "keys": {str(i + 1): 0 for i in range(len(versions))}, "name": name}}
        version = int(body.get("key_version") or len(versions))
        if not 1 <= version <= len(versions):
            return 400, {"errors": ["invalid key version"]}
        key = versions[version - 1]
        if op == "encrypt":
            nonce = os.urandom(12)
            blob = nonce + AESGCM(key).encrypt(nonce, base64.b64decode(body["plaintext"]), None)
            return 200, {"data": {"ciphertext": f"vault:v{version}:{base64.b64encode(blob).decode()}",
                                  "key_version": version}}
        if op == "decrypt":
            prefix, _sep, b64 = body["ciphertext"].rpartition(":")
            try:
                version = int(prefix.removeprefix("vault:v"))
                blob = base64.b64decode(b64)
                plain = AESGCM(versions[version - 1]).decrypt(blob[:12], blob[12:], None)
            except (ValueError, IndexError, InvalidTag):
                return 400, {"errors": ["cipher: message authentication failed"]}
            return 200, {"data": {"plaintext": base64.b64encode(plain).decode()}}
        if op == "hmac":
            mac = hmac.new(key, base64.b64decode(body["input"]), hashlib.sha256).digest()
            return 200, {"data": {"hmac": f"vault:v{version}:{base64.b64encode(mac).decode()}"}}
        return 404, {"errors": []}


def serve(token: str = "s.test-token"):
    """(server, transit, url): a running stand-in; call server.shutdown() when done."""
    transit = Transit(token)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            status, payload = transit.handle(method, self.path, self.headers.get("X-Vault-Token", ""), body)
            data = json.dumps(payload).encode() if status != 204 else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802
            self._answer("GET")

        def do_POST(self):  # noqa: N802
            self._answer("POST")

        def do_PUT(self):  # noqa: N802
            self._answer("POST")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, transit, f"http://127.0.0.1:{server.server_address[1]}"
