"""What the integration scripts share: TAP-like checks, SIP header lookup,
free ports, starting a daemon and waiting for its port, stopping what a
script started.  Each script ends with finish().

Slow builds (ThreadSanitizer runs several times slower) set
CG_TEST_TIME_SCALE, e.g. 10: every bound made with scaled() and every wait
here grows by that factor.  Waits that end as soon as their condition holds
are generous already, so the factor only matters to bounds a check asserts.
"""
import os
import shutil
import socket
import subprocess
import sys
import time

passed = failed = 0
TIME_SCALE = max(1.0, float(os.environ.get("CG_TEST_TIME_SCALE") or 1))


def check(name, cond, info=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
    print(("ok   - " if cond else "FAIL - ") + name + ("" if cond else " " + str(info)[:900]))


def scaled(seconds):
    """A time bound for this build: seconds times CG_TEST_TIME_SCALE."""
    return seconds * TIME_SCALE


def header(resp, name):
    """The value of the first header `name` of a SIP message, or None."""
    for line in (resp or "").split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


_handed_out = set()


def free_ports(n=1, udp=False, host="127.0.0.1"):
    """n distinct ports that nothing is bound to on host, chosen by the
    kernel (bind to port 0): free for TCP, and with udp=True for UDP on the
    same number too, since a SIP listener binds both.  The probing sockets
    are closed before this returns, so another process may take a port
    before the daemon binds it: start() then tries again with new ports.
    A port is never handed out twice in one script."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    ports = []
    while len(ports) < n:
        with socket.socket(family, socket.SOCK_STREAM) as t:
            t.bind((host, 0))
            port = t.getsockname()[1]
            if port in _handed_out:
                continue
            if udp:
                with socket.socket(family, socket.SOCK_DGRAM) as u:
                    try:
                        u.bind((host, port))
                    except OSError:
                        continue
        _handed_out.add(port)
        ports.append(port)
    return ports


def free_port(udp=False, host="127.0.0.1"):
    return free_ports(1, udp, host)[0]


def hostport(host, port):
    """host:port as a listen directive or URL writes it ([::1]:5060 for IPv6)."""
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def accepts(port, host="127.0.0.1"):
    """Whether something accepts TCP connections on host:port now."""
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def wait_port(port, seconds=60, host="127.0.0.1", proc=None):
    """Waits until something accepts TCP connections on host:port; False
    after `seconds` (scaled), or as soon as `proc` has exited."""
    end = time.time() + scaled(seconds)
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            return False
        if accepts(port, host):
            return True
        time.sleep(0.05)
    return False


def wait_for(pred, seconds=10, step=0.1):
    """Polls pred() until it holds (True) or `seconds` (scaled) pass (False)."""
    end = time.time() + scaled(seconds)
    while True:
        if pred():
            return True
        if time.time() >= end:
            return False
        time.sleep(step)


def mutual_tls_pki(work):
    """Certificates for SIP over TLS between Kamailio and cidguardd, both ways
    authenticated: cidguardd's server certificate (IP 127.0.0.1) from one CA,
    Kamailio's client certificate from another, and Kamailio's tls.cfg using
    them.  Returns {name: (key, cert)} for server-ca, client-ca, cgd and
    kamailio, and the tls.cfg's path under "kamailio.cfg"."""
    def openssl(*args):
        subprocess.run(("openssl",) + args, capture_output=True, check=True)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    out = {}
    for ca in ("server-ca", "client-ca"):
        out[ca] = (os.path.join(work, ca + ".key"), os.path.join(work, ca + ".crt"))
        openssl("req", "-x509", *ec, "-keyout", out[ca][0], "-out", out[ca][1], "-days", "2",
                "-subj", "/CN=" + ca, "-addext", "basicConstraints=critical,CA:TRUE")
    for leaf, ca, ext in (("cgd", "server-ca", "subjectAltName=IP:127.0.0.1\n"),
                          ("kamailio", "client-ca", "extendedKeyUsage=clientAuth\n")):
        out[leaf] = (os.path.join(work, leaf + ".key"), os.path.join(work, leaf + ".crt"))
        csr, extfile = os.path.join(work, leaf + ".csr"), os.path.join(work, leaf + ".ext")
        openssl("req", "-new", *ec, "-keyout", out[leaf][0], "-out", csr, "-subj", "/CN=" + leaf)
        with open(extfile, "w") as f:
            f.write(ext)
        openssl("x509", "-req", "-in", csr, "-CA", out[ca][1], "-CAkey", out[ca][0],
                "-CAcreateserial", "-days", "2", "-out", out[leaf][1], "-extfile", extfile)
    kam = out["kamailio"]
    out["kamailio.cfg"] = os.path.join(work, "tls.cfg")
    with open(out["kamailio.cfg"], "w") as f:
        f.write("[server:default]\nmethod = TLSv1.2+\ncertificate = %s\nprivate_key = %s\n\n"
                "[client:default]\nmethod = TLSv1.2+\nverify_certificate = yes\n"
                "require_certificate = yes\nca_list = %s\ncertificate = %s\nprivate_key = %s\n"
                % (kam[1], kam[0], out["server-ca"][1], kam[1], kam[0]))
    return out


def http_json(port, method, path, body=None, headers=None, timeout=10):
    """(status, parsed JSON answer or its text) of one HTTP request to
    127.0.0.1:port; a dict or list body is sent as JSON."""
    import http.client
    import json
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        text = r.read().decode(errors="replace")
    finally:
        c.close()
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, text


def tail(path, n=1500):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


def start(make, log_path, host="127.0.0.1", banner=True, seconds=60, tries=2, ready=None):
    """Starts a server on ports it is given and waits until it serves.

    make() chooses the ports (free_ports), writes whatever the server reads
    (a configuration file), and returns (argv, port): the command line and
    the TCP port whose accepting connections says it is up.  With banner
    (cidguardd's), its output must also name host:port, which it prints
    once every listener is bound; a string is looked for instead.  When
    the server exits before that (a port was taken between free_ports and
    its bind), make() is called again for new ports and the server started
    once more.  ready(port), when given, replaces the TCP check (a server
    on UDP only).  Returns the Popen; raises SystemExit with the log's tail
    when the server does not come up."""
    ready = ready or (lambda port: accepts(port, host))
    for attempt in range(tries):
        argv, port = make()
        want = banner if isinstance(banner, str) else hostport(host, port) if banner else None
        with open(log_path, "a") as log:
            p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        up = wait_for(lambda: p.poll() is not None or (
            ready(port) and (want is None or want in tail(log_path, 1 << 20))),
            seconds, 0.05)
        if up and p.poll() is None:
            return p
        if p.poll() is None:
            p.kill()
            p.wait()
            break
        p.wait()
    raise SystemExit("%s did not start: %s" % (os.path.basename(argv[0]), tail(log_path)))


def stop(procs, work=None):
    """Stops the processes a script started (SIGTERM, SIGKILL after 10 s)
    and removes its work directory."""
    procs = [p for p in procs if p is not None]
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=scaled(10))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if work:
        shutil.rmtree(work, ignore_errors=True)


def finish():
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


class FakeRedis:
    """A TCP server on loopback speaking just enough RESP to play a hostile
    sentinel or cluster node: answer(cmd) gets each command as a list of
    bytes and returns the raw reply bytes (None: no reply).  Every command
    is recorded in .seen.  Stopped by close()."""

    def __init__(self, answer):
        import threading
        self.answer, self.seen, self.conns = answer, [], []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        f = c.makefile("rb")
        try:
            while not self.closed:
                line = f.readline()
                if not line or not line.startswith(b"*"):
                    return
                cmd = []
                for _ in range(int(line[1:])):
                    n = int(f.readline()[1:])
                    cmd.append(f.read(n + 2)[:n])
                self.seen.append(cmd)
                out = self.answer(cmd)
                if out:
                    c.sendall(out)
        except (OSError, ValueError):
            pass
        finally:
            c.close()

    def close(self):
        self.closed = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def resp(x):
    """The RESP encoding of x: None (nil), int, bytes or str (bulk), a list
    (array), or an Exception (an error reply)."""
    if x is None:
        return b"$-1\r\n"
    if isinstance(x, Exception):
        return b"-" + str(x).encode() + b"\r\n"
    if isinstance(x, bool) or isinstance(x, int):
        return b":%d\r\n" % x
    if isinstance(x, str):
        x = x.encode()
    if isinstance(x, bytes):
        return b"$%d\r\n%s\r\n" % (len(x), x)
    return b"*%d\r\n" % len(x) + b"".join(resp(e) for e in x)
