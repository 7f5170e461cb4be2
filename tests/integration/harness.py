"""What the integration scripts share: TAP-like checks, SIP header lookup,
waiting for a daemon's port, stopping what a script started.  Each script
ends with finish()."""
import shutil
import socket
import subprocess
import sys
import time

passed = failed = 0


def check(name, cond, info=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
    print(("ok   - " if cond else "FAIL - ") + name + ("" if cond else " " + str(info)[:900]))


def header(resp, name):
    """The value of the first header `name` of a SIP message, or None."""
    for line in (resp or "").split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


def wait_port(port, seconds=20):
    """Waits until something accepts TCP connections on 127.0.0.1:port."""
    end = time.time() + seconds
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def stop(procs, work=None):
    """Stops the processes a script started (SIGTERM, SIGKILL after 10 s)
    and removes its work directory."""
    procs = [p for p in procs if p is not None]
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if work:
        shutil.rmtree(work, ignore_errors=True)


def finish():
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
