#!/bin/sh
# What cidguardd costs a Kamailio SBC (docs/performance.md, "Kamailio in front
# of cidguardd"), with SIPp as caller and callee.  The SBC is Kamailio on
# examples/kamailio/kamailio-cidguard.cfg, as operators run it; it and what it
# asks (cidguardd, or the stand-in) share core SCORE, SIPp's caller and callee
# run on core LCORE.  Four setups, measured in turn in every round:
#   direct   SIPp's caller to its callee, no SBC: what SIPp itself takes;
#   proxy    through Kamailio, which asks nobody (no node in its verification
#            set: every call goes on at once as X-Cidguard-Bypass: down);
#   stub302  through Kamailio, which asks a second Kamailio answering every
#            INVITE with the 302 cidguardd would send (the same headers,
#            nothing verified): the cost of the redirect itself;
#   cidguard through Kamailio, which asks cidguardd (one worker): every call
#            carries a fresh PASSporT (ES256, its certificate cached), is
#            verified, goes through the policy and is answered 302.
# Each call is INVITE, 200, ACK, BYE, 200 (ACK and BYE record-routed through
# Kamailio, never through cidguardd; no 180, which Kamailio's processes could
# pass on after the 200 and SIPp take for a failed call).  For each setup: calls/s with
# at most WINDOW calls open, the CPU per call of the SBC's processes (Kamailio,
# cidguardd or the stand-in) from /proc over that run, and the INVITE-to-200
# latency (p50, p99) at a fixed RATE.  Medians over ROUNDS rounds; the ratios
# are taken within the run, since others may use the machine (uptime is
# printed at start and end).  The SBC waits up to 2 s for an answer here,
# not the configuration's 200 ms: on a shared machine at saturation an
# answer can be late, the node marked down and the next second's calls
# passed on unverified (cheaper), which would flatter cidguardd; every
# setup says how many calls went on without an answer.  Both Kamailios get
# 512 MB of shared memory (-m 512): with Debian's 64 MB, transactions kept
# for their wait timer exhaust it at about a thousand calls a second.
# Usage: sh bench/sbcbench.sh [BUILD_DIR] [CALLS] [ROUNDS]
#        RATE (200), WINDOW (10), SCORE (1), LCORE (0) from the environment.
set -e
B=$(cd "${1:-build}" && pwd)
N=${2:-4000}
ROUNDS=${3:-3}
RATE=${RATE:-200}
WINDOW=${WINDOW:-10}
SCORE=${SCORE:-1}
LCORE=${LCORE:-0}
HERE=$(cd "$(dirname "$0")" && pwd)
CFG=$HERE/../examples/kamailio/kamailio-cidguard.cfg
KAM=$(command -v kamailio || echo /usr/sbin/kamailio)
W=$(mktemp -d /tmp/cg-sbcbench-XXXXXX)
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
. "$HERE/common.sh"
bench_pki
bench_conf "$W/cg.conf"
X5U=http://127.0.0.1:28085/certs/sp-1234.pem
SBC_PORT=25080
UAS_PORT=25090
STUB_PORT=25100

# A fresh PASSporT for every call (cidguardd refuses a replay), for SIPp's
# -inf: the token alone, since SIPp's fields end at ';'.
cat >"$W/ids.py" <<'EOF'
import base64, json, sys, time, uuid
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
x5u, n = sys.argv[2], int(sys.argv[3])
def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def js(o):
    return b64(json.dumps(o, separators=(",", ":")).encode())
head = js({"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": x5u})
now = int(time.time())
print("SEQUENTIAL")
for i in range(n):
    body = js({"attest": "A", "dest": {"tn": ["14155550100"]}, "iat": now,
               "orig": {"tn": "442079460000"}, "origid": str(uuid.uuid4())})
    r, s = decode_dss_signature(key.sign((head + "." + body).encode(), ec.ECDSA(hashes.SHA256())))
    print("%s.%s.%s" % (head, body, b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))))
EOF
ids() { python3 "$W/ids.py" "$W/pki/sp-1234.key" "$X5U" "$1" >"$W/ids.csv"; }

# Latency: SIPp times answers in whole milliseconds, too coarse for a hop.
# One call at a time at RATE/s (INVITE to final answer timed with the
# monotonic clock, then ACK and BYE along the route set): "p50 p99 calls",
# in ms.
cat >"$W/lat.py" <<'EOF'
import os, re, socket, sys, time
port, rate, x5u = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ids = open(sys.argv[4]).read().split()[1:]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(2)
me = s.getsockname()[1]
dest = ("127.0.0.1", port)
lat = []
def hdr(m, name):
    return re.findall(r"(?im)^" + name + r":\s*(.*?)\r$", m)
def final(cid, cseq):
    while True:
        m = s.recv(65535).decode(errors="replace")
        if cid in m and cseq in m and int(m.split(" ")[1]) >= 200:
            return m
for tok in ids:
    t = time.perf_counter()
    cid = os.urandom(8).hex()
    base = ("From: <sip:442079460000@127.0.0.1:%d>;tag=l%s\r\nCall-ID: %s\r\n"
            "Max-Forwards: 70\r\n" % (me, cid, cid))
    s.sendto(("INVITE sip:14155550100@127.0.0.1:%d SIP/2.0\r\n"
              "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n%s"
              "To: <sip:14155550100@127.0.0.1>\r\nCSeq: 1 INVITE\r\n"
              "Contact: <sip:lat@127.0.0.1:%d>\r\n"
              "Identity: %s;info=<%s>;alg=ES256;ppt=shaken\r\nContent-Length: 0\r\n\r\n"
              % (port, me, cid, base, me, tok, x5u)).encode(), dest)
    try:
        m = final(cid, "1 INVITE")
    except socket.timeout:
        continue
    lat.append(time.perf_counter() - t)
    if m.startswith("SIP/2.0 200"):
        to = hdr(m, "To")[0]
        uri = re.search(r"<([^>]*)>", hdr(m, "Contact")[0]).group(1)
        route = "".join("Route: %s\r\n" % r for r in reversed(hdr(m, "Record-Route")))
        for method, n in (("ACK", 1), ("BYE", 2)):
            s.sendto(("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s%d;rport"
                      "\r\n%sTo: %s\r\nCSeq: %d %s\r\n%sContent-Length: 0\r\n\r\n"
                      % (method, uri, me, cid, n, base, to, n, method, route)).encode(), dest)
        try:
            final(cid, "2 BYE")
        except socket.timeout:
            pass
    time.sleep(max(0.0, 1 / rate - (time.perf_counter() - t)))
lat.sort()
print("%.3f %.3f %d" % (lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3, len(lat)))
EOF

cat >"$W/uac.xml" <<EOF
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="signed call">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:442079460000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:sipp@[local_ip]:[local_port]>
Max-Forwards: 70
Identity: [field0];info=<$X5U>;alg=ES256;ppt=shaken
Content-Length: 0

]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:442079460000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
[routes]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:442079460000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
[routes]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" crlf="true"/>
</scenario>
EOF

cat >"$W/uas.xml" <<'EOF'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="callee">
  <recv request="INVITE"/>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_Record-Route:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
  <recv request="ACK" optional="true"/>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
</scenario>
EOF

# The stand-in: the 302 cidguardd sends for these calls, made by Kamailio.
cat >"$W/stub.cfg" <<EOF
#!KAMAILIO
debug=0
log_stderror=yes
children=4
auto_aliases=no
listen=udp:127.0.0.1:$STUB_PORT
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
request_route {
    if (!is_method("INVITE")) {
        if (!is_method("ACK")) {
            sl_send_reply("200", "OK");
        }
        exit;
    }
    append_to_reply("Contact: <\$ru>\r\n");
    append_to_reply("P-Asserted-Identity: <tel:+442079460000;verstat=TN-Validation-Passed>\r\n");
    append_to_reply("Cidguard-Presentation: <tel:+442079460000;verstat=TN-Validation-Passed>\r\n");
    append_to_reply("Cidguard-Verstat: TN-Validation-Passed\r\nCidguard-Action: allow\r\n");
    append_to_reply("Cidguard-Reasons: uk_allocation_unknown\r\n");
    sl_send_reply("302", "Moved Temporarily");
}
EOF

# CPU seconds (user + system) of a process and its children.
cpu() {
    for p in "$@" $(for q in "$@"; do ps -o pid= --ppid "$q"; done); do
        awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true
    done | awk -v hz="$(getconf CLK_TCK)" '{s += $1} END {printf "%.3f", s / hz}'
}
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "load at start: $(uptime)"
taskset -c "$SCORE" "$B/cidguardd" -c "$W/cg.conf" >"$W/cg.log" 2>&1 &
CGPID=$!
PIDS="$PIDS $CGPID"
taskset -c "$SCORE" "$KAM" -f "$W/stub.cfg" -DD -E -m 512 -w "$W" -Y "$W" >"$W/stub.log" 2>&1 &
STUBPID=$!
PIDS="$PIDS $STUBPID"
cd "$W"
UASPID=$(taskset -c "$LCORE" sipp -sf uas.xml -i 127.0.0.1 -p "$UAS_PORT" -bg -nostdin -buff_size 4194304 2>&1 |
    sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p')
PIDS="$PIDS $UASPID"
sleep 1

# sbc SETID: starts the SBC with verification set SETID (none: no node)
sbc() {
    case $1 in
    none) : >"$W/ds.list" ;;
    stub) echo "1 sip:127.0.0.1:$STUB_PORT 0 0" >"$W/ds.list" ;;
    cg) echo "1 sip:127.0.0.1:25060 0 0" >"$W/ds.list" ;;
    esac
    echo "2 sip:127.0.0.1:25070 0 0" >>"$W/ds.list"
    taskset -c "$SCORE" "$KAM" -f "$CFG" -DD -E -m 512 -w "$W" -Y "$W" -A CG_ADDR=127.0.0.1 \
        -A CG_NETWORK_PORT=$SBC_PORT -A CG_CUSTOMER_PORT=25081 \
        -A "CG_DISPATCHER_LIST=\"$W/ds.list\"" -A CG_TIMEOUT_MS=2000 -A CG_TRY_TIMEOUT_MS=2000 \
        -A "CG_NETWORK_NEXT_HOP=\"sip:127.0.0.1:$UAS_PORT\"" \
        -A "CG_CUSTOMER_NEXT_HOP=\"sip:127.0.0.1:$UAS_PORT\"" >"$W/sbc-$1.log" 2>&1 &
    SBCPID=$!
    SBCLOG=$W/sbc-$1.log
    sleep 2
}
# Stops the SBC; says how many calls went on without an answer (expected
# only with no node, "down").
sbc_stop() {
    kill "$SBCPID" 2>/dev/null || true
    wait "$SBCPID" 2>/dev/null || true
    echo "    calls not answered by the node: $(grep -c 'cidguard bypassed' "$SBCLOG" || true)" \
        "($(grep -o 'bypassed ([a-z0-9]*)' "$SBCLOG" | sort | uniq -c | tr -s ' ' | tr '\n' ' '))"
    sleep 1
}

# run NAME TARGET_PORT [OTHER PIDS]: one round of one setup
run() {
    name=$1
    port=$2
    shift 2
    # as fast as answered, at most WINDOW calls open
    ids "$N"
    rm -f ./*_rtt.csv
    c0=$(cpu ${SBCPID:-} "$@")
    k0=$(cpu ${SBCPID:-})
    t0=$(date +%s.%N)
    taskset -c "$LCORE" sipp -sf uac.xml -inf ids.csv -s 14155550100 -i 127.0.0.1 \
        -m "$N" -r 100000 -l "$WINDOW" -nostdin -buff_size 4194304 -trace_stat -stf "$W/stat-$name.csv" \
        -timeout 120s "127.0.0.1:$port" >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    c1=$(cpu ${SBCPID:-} "$@")
    k1=$(cpu ${SBCPID:-})
    ok=$(awk -F';' 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "SuccessfulCall(C)") c = i}
                    END {print $c}' "$W/stat-$name.csv")
    echo "$ok $t0 $t1" | awk '{printf "%.0f\n", $1 / ($3 - $2)}' >>"$W/cps-$name"
    echo "$c0 $c1 $ok" | awk '{printf "%.1f\n", ($2 - $1) * 1e6 / $3}' >>"$W/cpu-$name"
    echo "$k0 $k1 $ok" | awk '{printf "%.1f\n", ($2 - $1) * 1e6 / $3}' >>"$W/kcpu-$name"
    echo "$ok" >>"$W/ok-$name"
    # latency at a fixed rate, one call at a time
    ids $((RATE * 5))
    L=$(taskset -c "$LCORE" python3 "$W/lat.py" "$port" "$RATE" "$X5U" ids.csv)
    echo "$L" | awk '{print $1}' >>"$W/p50-$name"
    echo "$L" | awk '{print $2}' >>"$W/p99-$name"
    echo "  $name: $(tail -1 "$W/cps-$name") calls/s ($(tail -1 "$W/ok-$name") of $N), \
$(tail -1 "$W/cpu-$name") us CPU a call ($(tail -1 "$W/kcpu-$name") in the SBC's Kamailio), \
at $RATE/s p50 $(tail -1 "$W/p50-$name") ms p99 $(tail -1 "$W/p99-$name") ms ($(echo "$L" | awk '{print $3}') calls)"
}

i=0
while [ "$i" -lt "$ROUNDS" ]; do
    i=$((i + 1))
    echo "round $i:"
    SBCPID=
    run direct "$UAS_PORT"
    sbc none
    run proxy "$SBC_PORT"
    sbc_stop
    sbc stub
    run stub302 "$SBC_PORT" "$STUBPID"
    sbc_stop
    sbc cg
    run cidguard "$SBC_PORT" "$CGPID"
    sbc_stop
done
echo "medians over $ROUNDS rounds:"
for name in direct proxy stub302 cidguard; do
    echo "  $name: $(median <"$W/cps-$name") calls/s, $(median <"$W/cpu-$name") us CPU a call \
on the SBC's core ($(median <"$W/kcpu-$name") in its Kamailio), p50 $(median <"$W/p50-$name") ms, \
p99 $(median <"$W/p99-$name") ms"
done
CG=$(median <"$W/cps-cidguard")
ST=$(median <"$W/cps-stub302")
PR=$(median <"$W/cps-proxy")
echo "calls/s through Kamailio and cidguardd: $(awk -v a="$CG" -v b="$ST" 'BEGIN {printf "%.0f%%", 100 * a / b}') \
of Kamailio's own 302s, $(awk -v a="$CG" -v b="$PR" 'BEGIN {printf "%.0f%%", 100 * a / b}') of Kamailio asking nobody"
echo "verifications in cidguardd: $(curl -s http://127.0.0.1:28085/metrics | awk '/^cidguard_calls_total\{/ {s += $2} END {print s}')"
echo "load at end: $(uptime)"
