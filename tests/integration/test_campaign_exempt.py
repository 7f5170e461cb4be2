"""[policy] campaign_exempt through the real daemon over SIP.

Accounts (signed at B, a new presentation number and a new callee each
call) and trunks (unsigned, a new Do-Not-Originate number each call) behave
like campaigns.  Without the directive an account gets campaign_suspected;
after a SIGHUP that lists it (SPC/ORIGID), its further calls do not, nor do
the calls of an SPC listed whole or of a trunk listed as ingress:NAME, while
an account and a trunk that are not listed still do.  A gateway's partner
signed C on an ingress listed as international keeps its own key but is
judged as a trunk: never labelled for its foreign callers' numbers, still
labelled for suspect ones; the same calls on a domestic ingress are an
account's.  Exempt origins are
still observed (the gauge of origins in campaign behaviour counts them) but
not counted in cidguard_campaign_calls_total or
cidguard_campaign_origins_total.  A reload with a malformed entry is refused
and keeps the running list; a reload without the directive ends the
exemption.  With redis-server, a second daemon that only reads the calls the
first shares counts the crossings of the origins it does not list alone.

    python3 test_campaign_exempt.py BUILD_DIR
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (check, finish, free_port, free_ports, header, http_json, start, stop,  # noqa: E402
                     tail, wait_for)

BUILD = os.path.abspath(sys.argv[1])
CG, CGD = os.path.join(BUILD, "cidguard"), os.path.join(BUILD, "cidguardd")
WORK = tempfile.mkdtemp(prefix="cgd-exempt-")
LOG = os.path.join(WORK, "d.log")
CONF = os.path.join(WORK, "d.conf")
CALLS = 14  # a campaign crosses at its 10th call (the floor), with campaign_min_numbers = 2
proc = reader = redis = None
HTTP = SIP = SIGN = None  # the daemon's ports, chosen when it starts
READER_HTTP = REDIS_URL = None  # with redis-server: the reading daemon's HTTP port, Redis's URL
EXEMPT = "ACCT/vcid-platform; AGCY; ingress:trunk-ok"
serial = [0]


def fresh():
    """A new number's last four digits: every call a new presentation number and callee."""
    serial[0] += 1
    return "%04d" % serial[0]


def sign(spc, origid, orig, dest, attest="B"):
    return subprocess.run([CG, "sign", "--key", os.path.join(WORK, "pki", "sp-%s.key" % spc),
                           "--x5u", "http://127.0.0.1:%d/certs/sp-%s.pem" % (HTTP, spc),
                           "--orig", "+" + orig, "--dest", "+" + dest, "--attest", attest,
                           "--origid", origid], capture_output=True, text=True,
                          check=True).stdout.strip()


def invite(orig, dest, identity=None, tgrp=None):
    """One INVITE over UDP; the answer's reasons (a set), or None without an answer."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(30)
    branch = os.urandom(6).hex()
    msg = ("INVITE sip:+%s%s@127.0.0.1;user=phone SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK%s\r\n"
           "From: <sip:+%s@carrier.example;user=phone>;tag=1\r\nTo: <sip:+%s@127.0.0.1>\r\n"
           "Call-ID: %s@exempt\r\nCSeq: 1 INVITE\r\n%sContent-Length: 0\r\n\r\n"
           % (dest, ";tgrp=" + tgrp if tgrp else "", branch, orig, dest, branch,
              "Identity: %s\r\n" % identity if identity else ""))
    try:
        s.sendto(msg.encode(), ("127.0.0.1", SIP))
        r = s.recv(65535).decode()
    except OSError:
        return None
    finally:
        s.close()
    return set(filter(None, (header(r, "Cidguard-Reasons") or "").split(",")))


def account_calls(spc, origid, n=CALLS):
    """n calls of the account, each presenting a new UK mobile number at B to a new callee."""
    out = []
    for _ in range(n):
        k = fresh()
        orig, dest = "44740001" + k, "1415555" + k
        out.append(invite(orig, dest, sign(spc, origid, orig, dest)))
    return out


def gateway_calls(tgrp="gw-intl", partner="partner-7", prefix="3361234", n=CALLS):
    """n calls on the trunk tgrp, signed C by a gateway for its upstream partner, each from
    a new number (by default a French mobile) to a new callee."""
    out = []
    for _ in range(n):
        k = fresh()
        orig, dest = prefix + k, "1415555" + k
        out.append(invite(orig, dest, sign("GWAY", partner, orig, dest, "C"), tgrp))
    return out


def trunk_calls(name, n=CALLS):
    """n unsigned calls on the trunk, each from a new Do-Not-Originate number to a new callee."""
    out = []
    for _ in range(n):
        k = fresh()
        out.append(invite("44207946" + k, "1415555" + k, tgrp=name))
    return out


def flagged(answers):
    return sum(1 for a in answers if a is not None and "campaign_suspected" in a)


def answered(answers):
    return all(a is not None for a in answers)


def metric(name, port=None):
    _, text = http_json(port or HTTP, "GET", "/metrics")
    m = re.search(r"^%s (\d+)$" % re.escape(name), text if isinstance(text, str) else "", re.M)
    return int(m.group(1)) if m else -1


def write_conf(exempt=None, conf=CONF, ports=None, state="state"):
    with open(conf, "w") as f:
        f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\n"
                "sip_verify_listen = 127.0.0.1:%d\nsip_sign_listen = 127.0.0.1:%d\n"
                "workers = 2\ndecision_log = off\n[verify]\ntrust = %s\n"
                "[fetch]\nallow = 127.0.0.1/32\nallow_http = yes\n"
                "[policy]\ndno = %s\ningress = %s\ntgrp_from = 127.0.0.1\n"
                "campaign_min_numbers = 2\n%s%s"
                % ((os.path.join(WORK, state),) + (ports or (HTTP, SIP, SIGN)) +
                   (os.path.join(WORK, "pki", "root.pem"), os.path.join(WORK, "dno.csv"),
                    os.path.join(WORK, "ingress.csv"),
                    "campaign_exempt = %s\n" % exempt if exempt is not None else "",
                    "[redis]\nurl = %s\n" % REDIS_URL if REDIS_URL else "")))


def start_redis():
    """redis-server on loopback, or None when it is not installed or does not start."""
    global REDIS_URL
    if not shutil.which("redis-server"):
        return None
    port = []

    def make():
        port[:] = [free_port()]
        return ["redis-server", "--port", str(port[0]), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no"], port[0]

    try:
        p = start(make, os.path.join(WORK, "redis.log"), banner=False)
    except SystemExit as e:
        print(e)
        return None
    REDIS_URL = "redis://127.0.0.1:%d" % port[0]
    return p


def start_reader():
    """A second daemon on the same Redis that takes no calls: it only reads
    the first one's, with the exemptions listed from its start."""
    global READER_HTTP
    os.makedirs(os.path.join(WORK, "reader"))

    def make():
        global READER_HTTP
        ports = tuple(free_ports(1) + free_ports(2, udp=True))
        READER_HTTP = ports[0]
        write_conf(EXEMPT, os.path.join(WORK, "reader.conf"), ports, "reader")
        return [CGD, "-c", os.path.join(WORK, "reader.conf")], ports[0]

    return start(make, os.path.join(WORK, "reader.log"))


RECEIVED = 'cidguard_campaign_shared_total{direction="received"}'


def reload(count, expect="configuration reloaded"):
    """SIGHUP, then waits for the log to say `expect` for the count-th time."""
    proc.send_signal(signal.SIGHUP)
    return wait_for(lambda: tail(LOG, 1 << 22).count(expect) >= count, 10)


try:
    subprocess.run([CG, "pki", "init", os.path.join(WORK, "pki"), "--spc", "ACCT", "--spc",
                    "AGCY", "--spc", "GWAY"], capture_output=True, check=True)
    os.makedirs(os.path.join(WORK, "state", "certs"))
    for spc in ("ACCT", "AGCY", "GWAY"):
        shutil.copy(os.path.join(WORK, "pki", "sp-%s.pem" % spc),
                    os.path.join(WORK, "state", "certs"))
    with open(os.path.join(WORK, "dno.csv"), "w") as f:
        f.write("number,note\n" + "".join("44207946%04d,inbound only\n" % i
                                          for i in range(1, 1000)))
    with open(os.path.join(WORK, "ingress.csv"), "w") as f:
        f.write("ingress,international,addresses,note\ntrunk-ok,no,,a vouched-for peer\n"
                "trunk-bad,no,,another peer\ngw-intl,yes,,an international gateway\n"
                "trunk-dom,no,,a domestic peer\n")

    def configure():
        global HTTP, SIP, SIGN
        HTTP, SIP, SIGN = free_ports(1) + free_ports(2, udp=True)
        write_conf()
        return [CGD, "-c", CONF], HTTP

    redis = start_redis()
    proc = start(configure, LOG)
    if redis:
        reader = start_reader()
        # a first call, until the reader has seen one: it reads from then on
        check("the reading daemon receives the first daemon's calls through Redis",
              wait_for(lambda: invite("447400019999", "14155559999") is not None and
                       metric(RECEIVED, READER_HTTP) >= 1, 20, 0.5), tail(LOG))
        # from here on the reader receives every call: what it has now, and
        # the calls made since
        base = (metric(RECEIVED, READER_HTTP), serial[0])

    # 1. no exemption: the platform's account behaves like a campaign and is labelled
    a = account_calls("ACCT", "vcid-platform")
    check("without campaign_exempt the account gets campaign_suspected (%d of %d calls)"
          % (flagged(a), CALLS), answered(a) and flagged(a) >= 3 and not flagged(a[:9]), a)
    base_calls = metric("cidguard_campaign_calls_total")
    check("... counted in cidguard_campaign_calls_total and cidguard_campaign_origins_total",
          base_calls == flagged(a) and metric("cidguard_campaign_origins_total") == 1,
          (base_calls, metric("cidguard_campaign_origins_total")))

    # 1b. an international gateway's partner, signed C: every call a new
    # foreign number, yet not an account answerable for all its calls
    g = gateway_calls()
    check("a gateway's partner signed C on an international ingress, a new foreign number each "
          "call: never campaign_suspected", answered(g) and flagged(g) == 0, g)
    check("... and counted in neither counter",
          metric("cidguard_campaign_calls_total") == base_calls and
          metric("cidguard_campaign_origins_total") == 1,
          (metric("cidguard_campaign_calls_total"), metric("cidguard_campaign_origins_total")))
    dom = gateway_calls("trunk-dom", "partner-8")
    check("... the same calls on a domestic ingress are an account's: campaign_suspected "
          "(%d of %d)" % (flagged(dom), CALLS), answered(dom) and flagged(dom) >= 3, dom)
    bad_partner = gateway_calls("gw-intl", "partner-9", "44207946")
    check("a partner on the international ingress presenting a new Do-Not-Originate number each "
          "call: campaign_suspected on its own key (%d of %d)" % (flagged(bad_partner), CALLS),
          answered(bad_partner) and flagged(bad_partner) >= 3, bad_partner)
    base_calls = metric("cidguard_campaign_calls_total")

    # 2. a SIGHUP lists it, an SPC whole and a trunk
    write_conf(EXEMPT)
    check("a reload adds campaign_exempt", reload(1), tail(LOG))
    a = account_calls("ACCT", "vcid-platform", 3)
    check("the account listed as SPC/ORIGID: its calls, still held as a campaign, no longer get "
          "campaign_suspected", answered(a) and flagged(a) == 0, a)
    a = account_calls("AGCY", "agency-1")
    check("an account of an SPC listed whole: never campaign_suspected",
          answered(a) and flagged(a) == 0, a)
    a = trunk_calls("trunk-ok")
    check("the trunk listed as ingress:NAME: never campaign_suspected",
          answered(a) and flagged(a) == 0 and all("dno" in x for x in a), a)
    spoof = account_calls("ACCT", "spoofer")
    check("another account of the same SPC, not listed: campaign_suspected (%d of %d calls)"
          % (flagged(spoof), CALLS), answered(spoof) and flagged(spoof) >= 3, spoof)
    bad = trunk_calls("trunk-bad")
    check("another trunk, not listed: campaign_suspected (%d of %d calls)" % (flagged(bad), CALLS),
          answered(bad) and flagged(bad) >= 3, bad)
    check("the exempt origins are counted in neither counter",
          metric("cidguard_campaign_calls_total") == base_calls + flagged(spoof) + flagged(bad)
          and metric("cidguard_campaign_origins_total") == 5,
          (metric("cidguard_campaign_calls_total"), metric("cidguard_campaign_origins_total")))
    check("... but still observed: all seven origins are in campaign behaviour",
          metric("cidguard_campaign_origins") == 7, metric("cidguard_campaign_origins"))

    # 3. a malformed entry: the reload is refused, the running list stays
    write_conf("ACCT/vcid-platform; trunk-ok")
    check("a reload with a bare ingress name is refused, naming the directive",
          reload(1, "reload failed; keeping the running configuration") and
          '[policy] campaign_exempt: "trunk-ok" is not SPC, SPC/ORIGID or ingress:NAME'
          in tail(LOG), tail(LOG))
    a = account_calls("ACCT", "vcid-platform", 2) + trunk_calls("trunk-ok", 2)
    check("... and the running exemptions stay", answered(a) and flagged(a) == 0, a)

    # 4. a reload without the directive ends the exemption
    write_conf()
    check("a reload drops campaign_exempt", reload(2), tail(LOG))
    a = account_calls("ACCT", "vcid-platform", 2)
    check("the account, no longer listed, gets campaign_suspected again",
          answered(a) and flagged(a) == 2, a)

    if reader:
        want = base[0] + serial[0] - base[1]
        check("the reader received every call (%d)" % want,
              wait_for(lambda: metric(RECEIVED, READER_HTTP) >= want, 10),
              metric(RECEIVED, READER_HTTP))
        check("the reader counts the crossings of the four origins it does not list, not the "
              "three it does", metric("cidguard_campaign_origins_total", READER_HTTP) == 4 and
              metric("cidguard_campaign_origins", READER_HTTP) == 7,
              (metric("cidguard_campaign_origins_total", READER_HTTP),
               metric("cidguard_campaign_origins", READER_HTTP)))
    else:
        print("redis-server not available: the shared calls are not tested")
finally:
    stop([reader, proc, redis], WORK)

finish()
