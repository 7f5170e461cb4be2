"""A local HTTPS certificate repository for the daemon's fetch tests.

python3 certserver.py PORT CERT KEY DIR: serves DIR over TLS on 127.0.0.1:PORT
with the behaviours an x5u fetcher must survive (see ROUTES), and counts
requests per path (GET /_count?/path) so that single flight can be checked.
Its delays grow by CG_TEST_TIME_SCALE, as the fetcher's time limits in the
tests do.  Prints "ready" once it listens.
Test infrastructure only: a real process on loopback, not a mock of one.
"""
import http.server
import os
import ssl
import sys
import threading
import time

PORT, CERT, KEY, DIR = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
SCALE = max(1.0, float(os.environ.get("CG_TEST_TIME_SCALE") or 1))
counts = {}
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path
        if path.startswith("/_count?"):
            with lock:
                n = counts.get(path[8:], 0)
            return self.send(200, str(n).encode())
        with lock:
            counts[path] = counts.get(path, 0) + 1
        name = path.lstrip("/")
        if name.startswith("slow"):
            time.sleep(3 * SCALE)
        if name.startswith("delay"):
            time.sleep(0.3 * SCALE)
        if name.startswith("redirect"):
            return self.send(302, b"", [("Location", "/ok.pem")])
        if name.startswith("big"):
            return self.send(200, b"A" * 100000, [("Cache-Control", "max-age=86400")])
        real = name.split("-", 1)[1] if name.startswith(("slow-", "delay-")) else name
        p = os.path.join(DIR, os.path.basename(real))
        if not os.path.isfile(p):
            return self.send(404, b"not found")
        with open(p, "rb") as f:
            self.send(200, f.read(), [("Content-Type", "application/pem-certificate-chain"),
                                      ("Cache-Control", "max-age=172800")])


srv = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("ready", flush=True)
srv.serve_forever()
