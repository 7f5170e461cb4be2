#!/bin/sh
# The Debian packages, end to end, as a carrier gets them: builds the four
# binary packages (dpkg-buildpackage -b in a copy of the tree), checks them
# with lintian (any error fails), installs them with apt-get, checks the
# service unit (systemd-analyze verify, and security: exposure at most 3.0),
# runs the installed daemon as the service user with the capability the
# unit grants (port 5060), signs and verifies calls against it with the
# installed command line, checks the journal's priority prefixes, a reload
# and a drain, runs the daemon's integration tests (test_daemon.py) against
# the installed programs under the unit's seccomp filter, finds each manual
# page, then purges the packages and checks that nothing is left but the
# cidguard user (kept on purpose).
#
# systemd's sandbox cannot run without systemd as the init, so the unit's
# SystemCallFilter=, SystemCallErrorNumber=, MemoryDenyWriteExecute= and
# RestrictAddressFamilies= are rebuilt from the installed unit file as a
# seccomp filter (python3-seccomp, installed here when missing) that the
# daemon runs under; the other settings are checked by systemd-analyze only.
#
# Run as root on Debian 12 after scripts/deps.sh.  The daemon is first run
# by hand under the same user, capabilities and command line as the unit's
# ExecStart.  Then the service itself: where systemd is the init, the
# installed one is restarted, checked and reloaded; elsewhere (a container,
# a CI sandbox) a minimal Debian 12 with the packages is made with
# mmdebstrap from apt's mirror and booted with systemd-nspawn, and the
# service is checked inside it: sandboxed as the unit says, its journal
# priorities, a refused and a good reload, signing and verifying, a drain,
# a purge (CG_PKG_CONTAINER=0 leaves this out; mmdebstrap and
# systemd-container are installed when missing).
#
# CG_PKG_KEEP=1 keeps the work directory (packages, logs) and prints it.
# CG_PKG_DEBS=DIR tests the packages (and .changes) in DIR instead of
# building them.
# shellcheck disable=SC2016,SC2094
set -e
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "test-package.sh: run as root"; exit 2; }
T0=$(date +%s)
WORK=$(mktemp -d /tmp/cg-pkg.XXXXXX)
chmod 0755 "$WORK"
PKGS="libcidguard0 libcidguard-dev cidguard cidguardd"
DPID=
NSPAWN=
cleanup() {
    rc=$?
    [ -z "$DPID" ] || kill "$DPID" 2>/dev/null || true
    if [ -n "$NSPAWN" ]; then
        kill "$NSPAWN" 2>/dev/null || true
        wait "$NSPAWN" 2>/dev/null || true
    fi
    if [ -n "${CG_PKG_KEEP:-}" ]; then
        echo "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    echo "test-package.sh: $([ $rc -eq 0 ] && echo passed || echo FAILED) in $(($(date +%s) - T0))s"
    exit $rc
}
trap cleanup EXIT
PASS=0
FAIL=0
check() { # check NAME COMMAND...: one line per check
    name=$1
    shift
    if "$@"; then
        PASS=$((PASS + 1))
        echo "ok   $name"
    else
        FAIL=$((FAIL + 1))
        echo "FAIL $name"
    fi
}
export DEBIAN_FRONTEND=noninteractive
/usr/bin/python3 -c 'import seccomp' 2>/dev/null ||
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends python3-seccomp >/dev/null
# The unit's seccomp settings as a filter: unit-seccomp.py UNIT PROGRAM [ARG]...
cat >"$WORK/unit-seccomp.py" <<'PYEOF'
"""unit-seccomp.py UNIT PROGRAM [ARG]...: runs PROGRAM under the seccomp
filter systemd would install for UNIT's SystemCallFilter=,
SystemCallErrorNumber=, MemoryDenyWriteExecute= and
RestrictAddressFamilies= (native architecture only).  Needs no_new_privs
(setpriv --no-new-privs) or CAP_SYS_ADMIN."""
import errno
import os
import subprocess
import sys

import seccomp

unit, argv = sys.argv[1], sys.argv[2:]
allow, deny, err, mdwe, families = set(), set(), None, False, None


def expand(names, seen=None):
    seen = set() if seen is None else seen
    out = set()
    for n in names:
        if not n.startswith("@"):
            out.add(n)
        elif n not in seen:
            seen.add(n)
            text = subprocess.run(["systemd-analyze", "syscall-filter", n], check=True,
                                  capture_output=True, text=True).stdout
            for line in text.splitlines()[1:]:
                line = line.strip()
                if line and not line.startswith("#"):
                    out |= expand([line], seen)
    return out


for line in open(unit):
    key, _, value = line.strip().partition("=")
    if key == "SystemCallFilter":
        if value.startswith("~"):
            deny |= expand(value[1:].split())
        else:
            allow |= expand(value.split())
    elif key == "SystemCallErrorNumber":
        err = getattr(errno, value)
    elif key == "MemoryDenyWriteExecute":
        mdwe = value == "yes"
    elif key == "RestrictAddressFamilies":
        families = [{"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10}[f] for f in value.split()]

default = seccomp.ERRNO(err) if err else seccomp.KILL_PROCESS
f = seccomp.SyscallFilter(defaction=default)
W, X, SHM_EXEC = 0x2, 0x4, 0o100000
special = {"mmap", "mprotect", "pkey_mprotect", "shmat", "socket"}
for name in sorted(allow - deny):
    if (mdwe or families) and name in special:
        continue
    try:
        f.add_rule(seccomp.ALLOW, name)
    except Exception:  # not a syscall of this architecture
        pass
A = seccomp.Arg
if mdwe:
    for v in (0, W, X):
        f.add_rule(seccomp.ALLOW, "mmap", A(2, seccomp.MASKED_EQ, W | X, v))
    f.add_rule(seccomp.ALLOW, "mprotect", A(2, seccomp.MASKED_EQ, X, 0))
    f.add_rule(seccomp.ALLOW, "pkey_mprotect", A(2, seccomp.MASKED_EQ, X, 0))
    f.add_rule(seccomp.ALLOW, "shmat", A(2, seccomp.MASKED_EQ, SHM_EXEC, 0))
else:
    for n in ("mmap", "mprotect", "pkey_mprotect", "shmat"):
        if n in allow - deny:
            f.add_rule(seccomp.ALLOW, n)
if "socket" in allow - deny:
    if families:
        for fam in families:
            f.add_rule(seccomp.ALLOW, "socket", A(0, seccomp.EQ, fam))
    else:
        f.add_rule(seccomp.ALLOW, "socket")
f.load()
os.execv(argv[0], argv)
PYEOF

# An earlier run's packages (an interrupted one) go first.
# shellcheck disable=SC2086
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' $PKGS 2>/dev/null |
    awk '$2 ~ /^[ir]/ {print $1}')
# shellcheck disable=SC2086
[ -z "$installed" ] || apt-get purge -y -qq $installed >/dev/null

if [ -n "${CG_PKG_DEBS:-}" ]; then
    echo "== the packages in $CG_PKG_DEBS (CG_PKG_DEBS), not built here"
    t=$(date +%s)
    cp "$CG_PKG_DEBS"/*.deb "$CG_PKG_DEBS"/*.changes "$CG_PKG_DEBS"/*.buildinfo "$WORK/"
else
    echo "== build (dpkg-buildpackage -b -us -uc)"
    mkdir "$WORK/src"
    tar --exclude='./build*' --exclude=./.git --exclude=node_modules --exclude='./obj-*' \
        --exclude=./fuzz/corpus -cf - . | tar -C "$WORK/src" -xf -
    t=$(date +%s)
    if ! (cd "$WORK/src" && dpkg-buildpackage -b -us -uc -j"$(nproc)") >"$WORK/build.log" 2>&1; then
        grep -E -B2 -A8 'error:|Error [0-9]' "$WORK/build.log" | head -60
        echo "FAIL dpkg-buildpackage (the first errors above; CG_PKG_KEEP=1 keeps $WORK/build.log)"
        exit 1
    fi
fi
echo "packages (made in $(($(date +%s) - t))s):"
for p in $PKGS; do
    deb=$(ls "$WORK/${p}"_*.deb)
    echo "  $(basename "$deb") ($(dpkg-deb -f "$deb" Installed-Size) KiB)"
done

echo "== lintian"
lintian --fail-on error --display-info "$WORK"/cidguard_*.changes >"$WORK/lintian.log" 2>&1 &&
    lint=0 || lint=$?
sed 's/^/  /' "$WORK/lintian.log"
check "lintian: no error" [ "$lint" -eq 0 ]

echo "== install (apt-get install ./*.deb)"
debs=""
for p in $PKGS; do debs="$debs $(ls "$WORK/${p}"_*.deb)"; done
# a state directory made beforehand, by hand, as root: the package must
# hand it to the service user all the same
install -d -m 0755 /var/lib/cidguard
# shellcheck disable=SC2086
apt-get install -y -qq $debs >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; exit 1; }
for p in $PKGS; do dpkg -L "$p" >"$WORK/$p.files"; done
SYSTEMD=
state=$(systemctl is-system-running 2>/dev/null || true)
case "$state" in running | degraded | starting) SYSTEMD=1 ;; esac
if [ -n "$SYSTEMD" ]; then
    # The package started the service; the checks below run the daemon by
    # hand on the same state directory, so it stops until they are done.
    check "the package started cidguardd.service" systemctl is-active -q cidguardd
    systemctl stop cidguardd
fi
check "cidguard user is a system user" sh -c '[ "$(id -u cidguard)" -lt 1000 ]'
check "/var/lib/cidguard (made beforehand by root) belongs to cidguard, mode 750" \
    [ "$(stat -c '%U %a' /var/lib/cidguard)" = "cidguard 750" ]
check "/etc/cidguard/cidguardd.conf is a conffile" \
    sh -c 'dpkg-query -W -f="\${Conffiles}" cidguardd | grep -q " /etc/cidguard/cidguardd.conf "'
check "libraries have a SONAME and the -dev package their links" \
    sh -c 'objdump -p $(ls /usr/lib/*/libcidguard.so.0) | grep -q "SONAME *libcidguard.so.0" &&
           pkg-config --exists cidguard'
echo "  the programs' libcidguard: $(ldd /usr/sbin/cidguardd /usr/bin/cidguard |
    sed -n 's/^[[:space:]]*\(libcidguard[^ ]*\) => \([^ ]*\).*/\1/p' | sort -u | tr '\n' ' ')"

echo "== the service unit"
UNIT=/lib/systemd/system/cidguardd.service
check "systemd-analyze verify is clean" sh -c "[ -z \"\$(systemd-analyze verify $UNIT 2>&1)\" ]"
systemd-analyze verify "$UNIT" 2>&1 | sed 's/^/  /'
exposure=$(systemd-analyze security --offline=yes "$UNIT" 2>/dev/null |
    sed -n 's/.*Overall exposure level for cidguardd.service: *\([0-9.]*\).*/\1/p')
echo "  exposure: ${exposure:-?}"
check "systemd-analyze security: exposure <= 3.0 (OK)" \
    awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 3.0) }'

echo "== manual pages"
for page in "1 cidguard" "8 cidguardd" "5 cidguardd.conf"; do
    # shellcheck disable=SC2086
    check "man -w $page" sh -c "man -w $page >/dev/null"
done
check "cidguardd.conf(5) lists every directive of cidguardd --directives" sh -c '
    # The installed file itself (-l): a cached page from an earlier install
    # may look newer, since packaged files carry the changelog date.
    man -l "$(man -w 5 cidguardd.conf)" 2>/dev/null >"$1"
    n=0
    missing=
    for d in $(cidguardd --directives | sed -n "s/^\([a-z_0-9]*\) = .*/\1/p"); do
        grep -q "^ *$d = " "$1" || missing="$missing $d"
        n=$((n + 1))
    done
    [ -z "$missing" ] ||
        echo "  not in cidguardd.conf(5), so not in docs/cidguardd.conf either:$missing"
    [ "$n" -gt 50 ] && [ -z "$missing" ]' sh "$WORK/cidguardd.conf.5.txt"

echo "== the daemon as the service user"
# The installed configuration, as is, but on 127.0.0.2 so that no other
# daemon on this machine's 127.0.0.1:5060 is in the way: still port 5060,
# which needs the unit's one capability.
T="$WORK/run"
install -d -o cidguard -g cidguard -m 0750 "$T"
# The unit's User=, AmbientCapabilities=/CapabilityBoundingSet= and
# NoNewPrivileges=, as setpriv arguments.
AS_SERVICE="setpriv --reuid=cidguard --regid=cidguard --init-groups --no-new-privs
    --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service
    --bounding-set=-all,+net_bind_service --"
sed 's/127\.0\.0\.1:/127.0.0.2:/' /etc/cidguard/cidguardd.conf >"$T/installed.conf"
# conf_set FILE SECTION.NAME=VALUE...: FILE with those directives' values
# replaced where the example sets them (a directive given twice is refused).
conf_set() {
    f=$1
    shift
    for kv in "$@"; do
        sec=${kv%%.*} rest=${kv#*.}
        name=${rest%%=*} value=${rest#*=}
        grep -q "^$name = " "$f" || { echo "conf_set: $name is not in $f" >&2; return 1; }
        set -- "$@" -e "/^\[$sec\]/,/^\[/ s|^$name = .*|$name = $value|"
        shift
    done
    sed "$@" "$f"
}
# wait_for FILE PATTERN SECONDS
wait_for() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -lt $(($3 * 10)) ] || return 1
        sleep 0.1
    done
}
SANDBOX="/usr/bin/python3 $WORK/unit-seccomp.py $UNIT"
# start_daemon CONF LOG [journal]: the unit's ExecStart as the service user,
# under the unit's seccomp filter;
# with "journal", JOURNAL_STREAM names LOG as systemd would name its stream.
start_daemon() {
    : >"$2"
    chown cidguard "$2"
    # shellcheck disable=SC2086
    if [ -n "${3:-}" ]; then
        env JOURNAL_STREAM="$(stat -c '%d:%i' "$2")" $AS_SERVICE $SANDBOX /usr/sbin/cidguardd \
            -c "$1" --state-dir /var/lib/cidguard >>"$2" 2>&1 &
    else
        env -u JOURNAL_STREAM $AS_SERVICE $SANDBOX /usr/sbin/cidguardd \
            -c "$1" --state-dir /var/lib/cidguard >>"$2" 2>&1 &
    fi
    DPID=$!
    wait_for "$2" "HTTP API" 20
}
stop_daemon() {
    kill -TERM "$DPID"
    rc=0
    wait "$DPID" || rc=$?
    DPID=
    return $rc
}
if start_daemon "$T/installed.conf" "$T/installed.log"; then
    check "installed configuration: started as cidguard on 127.0.0.2:5060" \
        sh -c "[ \"\$(stat -c %U /proc/$DPID)\" = cidguard ] && grep -q '127.0.0.2:5060' '$T/installed.log'"
    check "installed configuration: /healthz answers ok" \
        sh -c '[ "$(curl -s http://127.0.0.2:8085/healthz)" = ok ]'
    check "outside the journal: no priority prefix" sh -c "! grep -q '^<[0-7]>' '$T/installed.log'"
    check "installed configuration: SIGTERM drains and exits 0" stop_daemon
else
    sed 's/^/  /' "$T/installed.log"
    check "installed configuration: the daemon starts" false
    kill "$DPID" 2>/dev/null || true
    DPID=
fi

# Then a signing and verifying daemon: the same configuration with a test
# PKI, the command line's signer as a customer, and its certificate served
# from the daemon's own repository (/var/lib/cidguard/certs).
cidguard pki init "$T/pki" --spc 1234 >/dev/null
chown -R cidguard:cidguard "$T/pki"
install -d -o cidguard -g cidguard /var/lib/cidguard/certs
install -o cidguard -g cidguard -m 0644 "$T/pki/sp-1234.pem" /var/lib/cidguard/certs/
printf 'customer,addresses,numbers\nlab,127.0.0.1,4420794600*;1415555010*\n' >"$T/customers.csv"
X5U=http://127.0.0.2:8085/certs/sp-1234.pem
conf_set "$T/installed.conf" verify.trust="$T/pki/root.pem" verify.crl="$T/pki/crl.pem" \
    fetch.allow=127.0.0.0/8 fetch.allow_http=yes sign.key="$T/pki/sp-1234.key" sign.x5u="$X5U" \
    sign.customers="$T/customers.csv" >"$T/test.conf"
chown cidguard "$T/test.conf" "$T/customers.csv"
# One SIP request over UDP to 127.0.0.2:PORT; prints the answer.
sip() { # sip PORT FROM TO [IDENTITY]
    python3 - "$@" <<'EOF'
import os, socket, sys
port, frm, to = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ident = "Identity: %s\r\n" % sys.argv[4] if len(sys.argv) > 4 else ""
msg = ("INVITE sip:%s@127.0.0.2;user=phone SIP/2.0\r\n"
       "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK%s\r\n"
       "From: <sip:%s@carrier.example;user=phone>;tag=77\r\n"
       "To: <sip:%s@127.0.0.2;user=phone>\r\nCall-ID: %s@pkg\r\nCSeq: 1 INVITE\r\n"
       "Max-Forwards: 70\r\n%sContent-Length: 0\r\n\r\n"
       % (to, os.urandom(6).hex(), frm, to, os.urandom(8).hex(), ident))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(10)
s.sendto(msg.encode(), ("127.0.0.2", port))
print(s.recv(65535).decode())
EOF
}
if start_daemon "$T/test.conf" "$T/test.log" journal; then
    # The command line signs; the daemon verifies over SIP (port 5060) and HTTP.
    ID=$(cidguard sign --key "$T/pki/sp-1234.key" --x5u "$X5U" --orig +442079460000 \
        --dest +14155550100 --attest A)
    sip 5060 +442079460000 +14155550100 "$ID" >"$T/sip-verify.txt" || true
    check "cidguard signs, the daemon verifies over SIP on 5060: TN-Validation-Passed" \
        grep -q 'verstat=TN-Validation-Passed' "$T/sip-verify.txt"
    # A new signature: the daemon remembers the first one (a second use is a replay).
    ID2=$(cidguard sign --key "$T/pki/sp-1234.key" --x5u "$X5U" --orig +442079460000 \
        --dest +14155550100 --attest A)
    body=$(printf '{"verificationRequest":{"from":{"tn":"442079460000"},"to":{"tn":["14155550100"]},"time":%s,"identity":"%s"}}' \
        "$(date +%s)" "$ID2")
    curl -s http://127.0.0.2:8085/stir/v1/verification -H 'Content-Type: application/json' \
        -d "$body" >"$T/http-verify.json" || true
    check "cidguard signs, the daemon verifies over HTTP: TN-Validation-Passed" \
        grep -q '"verstat":"TN-Validation-Passed"' "$T/http-verify.json"
    # The daemon signs over SIP (port 5070); the command line verifies with
    # the certificate the daemon serves.
    sip 5070 +442079460000 +14155550100 >"$T/sip-sign.txt" || true
    SIGNED=$(sed -n 's/^Identity: *//p' "$T/sip-sign.txt" | tr -d '\r')
    curl -s -o "$T/served.pem" "$X5U" || true
    check "the daemon signs over SIP at A; cidguard verify passes it" sh -c '
        grep -q "Cidguard-Attest: A" "$1" &&
        cidguard verify --identity "$2" --from +442079460000 --to +14155550100 \
            --cert "$3" --trust "$4" --crl "$5" --allow-http >/dev/null' sh "$T/sip-sign.txt" "$SIGNED" \
        "$T/served.pem" "$T/pki/root.pem" "$T/pki/crl.pem"
    check "the daemon's signature pasted onto another caller fails (orig_mismatch)" sh -c '
        cidguard verify --identity "$1" --from +442079460001 --to +14155550100 \
            --cert "$2" --trust "$3" --allow-http | grep -q "\"reason_name\":\"orig_mismatch\""' \
        sh "$SIGNED" "$T/served.pem" "$T/pki/root.pem"
    kill -HUP "$DPID"
    check "SIGHUP (ExecReload) reloads" wait_for "$T/test.log" "configuration reloaded" 10
    check "under the journal: every line has a priority prefix, no timestamp" \
        sh -c "[ -s '$T/test.log' ] && ! grep -qv '^<[0-7]>' '$T/test.log' &&
               ! grep -qE '^<[0-7]>[0-9]{4}-[0-9]{2}-[0-9]{2}' '$T/test.log'"
    check "under the journal: the reload at info (<6>)" \
        grep -q '^<6>cidguardd: configuration reloaded' "$T/test.log"
    check "the daemon drains on SIGTERM and exits 0" stop_daemon
    check "state written as the service user" \
        sh -c '[ -z "$(find /var/lib/cidguard ! -user cidguard)" ] && [ -f /var/lib/cidguard/decisions.db ]'
else
    sed 's/^/  /' "$T/test.log"
    check "test configuration: the daemon starts" false
fi

# Where systemd is not the init (a container, a CI sandbox), a minimal
# Debian 12 is made with mmdebstrap (from the same mirror apt uses) with the
# packages installed, and booted with systemd-nspawn (its own network):
# the service then runs as a carrier runs it, under systemd with every
# setting of the unit, and is checked from inside with nsenter.
container_stage() {
    echo "== the service under systemd, in a booted Debian 12 container (systemd-nspawn)"
    for tool in mmdebstrap:mmdebstrap systemd-nspawn:systemd-container; do
        command -v "${tool%%:*}" >/dev/null ||
            apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
                "${tool#*:}" >/dev/null
    done
    mkdir "$WORK/debs"
    for p in libcidguard0 cidguard cidguardd; do cp "$WORK/${p}"_*.deb "$WORK/debs/"; done
    t=$(date +%s)
    if ! mmdebstrap --variant=minbase --include=systemd,systemd-sysv,curl \
        --customize-hook="copy-in $WORK/debs /tmp" \
        --customize-hook='chroot "$1" sh -c "apt-get install -y -q /tmp/debs/*.deb && rm -r /tmp/debs"' \
        bookworm "$WORK/rootfs" >"$WORK/mmdebstrap.log" 2>&1; then
        tail -20 "$WORK/mmdebstrap.log"
        check "a Debian 12 container with the packages (mmdebstrap)" false
        return 0
    fi
    echo "  made in $(($(date +%s) - t))s"
    systemd-nspawn -D "$WORK/rootfs" --private-network --register=no --keep-unit \
        --machine=cidguard-test --console=passive --boot </dev/null >"$WORK/nspawn.log" 2>&1 &
    NSPAWN=$!
    i=0
    init=
    while [ -z "$init" ] && [ $i -lt 100 ]; do
        init=$(pgrep -P $NSPAWN -x systemd || true)
        i=$((i + 1))
        sleep 0.1
    done
    [ -n "$init" ] || { cat "$WORK/nspawn.log"; check "the container boots" false; return 0; }
    IN="nsenter -t $init -a"
    $IN systemctl is-system-running --wait >/dev/null 2>&1 || true
    $IN sh -c 'for i in $(seq 50); do curl -sf http://127.0.0.1:8085/healthz && exit; sleep 0.2; done' \
        >/dev/null || true
    check "container: the package enabled and started cidguardd at boot" \
        $IN systemctl is-active -q cidguardd
    check "container: it runs as cidguard with CAP_NET_BIND_SERVICE only, no_new_privs, seccomp" \
        $IN sh -c 'p=$(systemctl show -P MainPID cidguardd); s=/proc/$p/status
            [ "$(stat -c %U /proc/$p)" = cidguard ] &&
            grep -q "^CapEff:.*0000000000000400$" $s && grep -q "^CapBnd:.*0000000000000400$" $s &&
            grep -q "^NoNewPrivs:.*1" $s && grep -q "^Seccomp:.*2" $s'
    check "container: /healthz answers on 127.0.0.1:8085" \
        $IN sh -c '[ "$(curl -s http://127.0.0.1:8085/healthz)" = ok ]'
    live=$($IN systemd-analyze security cidguardd 2>/dev/null |
        sed -n 's/.*Overall exposure level for cidguardd.service: *\([0-9.]*\).*/\1/p')
    echo "  exposure of the running service: ${live:-?}"
    check "container: systemd-analyze security of the running service <= 3.0" \
        awk -v e="${live:-99}" 'BEGIN { exit !(e <= 3.0) }'
    # Journal priorities: a bad file refused at err, a good reload at info.
    $IN sh -c 'cp /etc/cidguard/cidguardd.conf /root/good.conf
        echo "no_such_directive = 1" >>/etc/cidguard/cidguardd.conf
        systemctl reload cidguardd; sleep 1; cp /root/good.conf /etc/cidguard/cidguardd.conf
        systemctl reload cidguardd; sleep 1'
    check "container: journal: the banner at info, without timestamps of its own" \
        $IN sh -c 'journalctl -u cidguardd -p info..info -o cat | grep -q "^cidguardd .*: .* worker(s); state in /var/lib/cidguard$"'
    check "container: journal: a refused reload at err, the service still active" \
        $IN sh -c 'journalctl -u cidguardd -p err..err -o cat | grep -q "reload failed; keeping the running configuration" &&
            systemctl is-active -q cidguardd'
    check "container: journal: the reload at info" \
        $IN sh -c 'journalctl -u cidguardd -p info..info -o cat | grep -q "^cidguardd: configuration reloaded$"'
    # Signing and verifying in the sandbox: a test PKI, the daemon's own
    # repository as the x5u, the HTTP signing API for a loopback customer.
    # The installed configuration, edited from outside (the same inode, so
    # its owner and mode stay the package's).
    CC="$WORK/rootfs/etc/cidguard/cidguardd.conf"
    conf_set "$CC" server.sign_http_listen=127.0.0.1:8086 verify.trust=/etc/cidguard/pki/root.pem \
        verify.crl=/etc/cidguard/pki/crl.pem fetch.allow=127.0.0.0/8 fetch.allow_http=yes \
        sign.key=/etc/cidguard/pki/sp-1234.key sign.x5u=http://127.0.0.1:8085/certs/sp-1234.pem \
        sign.customers=/etc/cidguard/customers.csv sign.http_by_address=yes >"$WORK/container.conf"
    cat "$WORK/container.conf" >"$CC"
    f0=$FAIL
    check "container: in the sandbox the daemon verifies what cidguard signs and signs over HTTP" \
        $IN sh -c '
        exec >/root/sandbox.log 2>&1
        set -ex
        cidguard pki init /etc/cidguard/pki --spc 1234 >/dev/null
        chgrp -R cidguard /etc/cidguard/pki
        chmod 0640 /etc/cidguard/pki/sp-1234.key
        install -d -o cidguard -g cidguard /var/lib/cidguard/certs
        cp /etc/cidguard/pki/sp-1234.pem /var/lib/cidguard/certs/
        printf "customer,addresses,numbers\nlab,127.0.0.1,4420794600*\n" >/etc/cidguard/customers.csv
        x5u=http://127.0.0.1:8085/certs/sp-1234.pem
        systemctl restart cidguardd
        for i in $(seq 50); do curl -sf http://127.0.0.1:8085/healthz >/dev/null && break; sleep 0.2; done
        id=$(cidguard sign --key /etc/cidguard/pki/sp-1234.key --x5u $x5u --orig +442079460000 \
            --dest +14155550100 --attest A)
        curl -s http://127.0.0.1:8085/stir/v1/verification -H "Content-Type: application/json" \
            -d "{\"verificationRequest\":{\"from\":{\"tn\":\"442079460000\"},\"to\":{\"tn\":[\"14155550100\"]},\"time\":$(date +%s),\"identity\":\"$id\"}}" |
            grep -q "\"verstat\":\"TN-Validation-Passed\""
        curl -s http://127.0.0.1:8086/stir/v1/signing -H "Content-Type: application/json" \
            -d "{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"442079460000\"},\"dest\":{\"tn\":[\"14155550100\"]}}}" |
            grep -q "\"identity\":\"eyJ"
        [ -s /var/lib/cidguard/origid.key ] && [ "$(stat -c %U /var/lib/cidguard/origid.key)" = cidguard ]'
    [ "$FAIL" -eq "$f0" ] || $IN sh -c 'tail -20 /root/sandbox.log; journalctl -u cidguardd -o cat | tail -20' |
        sed 's/^/  /'
    check "container: systemctl stop drains, exit status 0" \
        $IN sh -c 'systemctl stop cidguardd && [ "$(systemctl show -P ExecMainStatus cidguardd)" = 0 ]'
    $IN sh -c 'rm -rf /etc/cidguard/pki /etc/cidguard/customers.csv
        apt-get purge -y -q cidguardd cidguard libcidguard0 >/dev/null 2>&1'
    check "container: purge removes /etc/cidguard, /var/lib/cidguard and the unit" \
        $IN sh -c '[ ! -e /etc/cidguard ] && [ ! -e /var/lib/cidguard ] &&
            [ ! -e /lib/systemd/system/cidguardd.service ] &&
            [ ! -e /etc/systemd/system/multi-user.target.wants/cidguardd.service ]'
    $IN systemctl poweroff >/dev/null 2>&1 || kill $NSPAWN 2>/dev/null || true
    wait $NSPAWN 2>/dev/null || true
    NSPAWN=
}

echo "== the daemon's integration tests, installed programs (test_daemon.py under the unit's seccomp filter)"
# tests/integration/test_daemon.py takes a directory holding cidguard and
# cidguardd; here they are the installed ones, the daemon under the filter.
# Its own network namespace: the test's default ports (127.0.0.1:5060...)
# may be taken on a shared machine.
mkdir "$WORK/bin"
ln -s /usr/bin/cidguard "$WORK/bin/cidguard"
printf '#!/bin/sh\nexec %s /usr/sbin/cidguardd "$@"\n' "$SANDBOX" >"$WORK/bin/cidguardd"
chmod 0755 "$WORK/bin/cidguardd"
if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
    netns="unshare -n"
else
    netns=
fi
# shellcheck disable=SC2086
$netns sh -c '[ -z "$2" ] || ip link set lo up; python3 tests/integration/test_daemon.py "$1"' \
    sh "$WORK/bin" "$netns" >"$WORK/test_daemon.log" 2>&1 && itrc=0 || itrc=$?
tail -1 "$WORK/test_daemon.log" | sed 's/^/  test_daemon.py: /'
[ "$itrc" -eq 0 ] || grep -v '^ok' "$WORK/test_daemon.log" | tail -30
check "test_daemon.py passes under the unit's seccomp filter" [ "$itrc" -eq 0 ]
sh tests/integration/test_journal.sh /usr/sbin/cidguardd >"$WORK/test_journal.log" 2>&1 &&
    jrc=0 || jrc=$?
tail -1 "$WORK/test_journal.log" | sed 's/^/  test_journal.sh: /'
[ "$jrc" -eq 0 ] || grep -v '^ok' "$WORK/test_journal.log" | tail -30
check "test_journal.sh: the installed daemon's priorities under the journal" [ "$jrc" -eq 0 ]

if [ -n "$SYSTEMD" ]; then
    echo "== the service under systemd"
    systemctl restart cidguardd
    sleep 1
    check "systemctl: cidguardd is active, as cidguard" sh -c '
        systemctl is-active -q cidguardd &&
        [ "$(ps -o user= -p "$(systemctl show -P MainPID cidguardd)")" = cidguard ]'
    systemctl reload cidguardd
    sleep 1
    check "systemctl reload: the journal has the reload at priority info" \
        sh -c 'journalctl -u cidguardd -p info..info -o cat --since -1min |
               grep -q "configuration reloaded"'
    systemctl stop cidguardd
elif [ "${CG_PKG_CONTAINER:-1}" = 0 ]; then
    echo "== systemd is not the init here (${state:-no answer}) and CG_PKG_CONTAINER=0:" \
        "the unit was checked by systemd-analyze and its ExecStart run by hand as above"
else
    container_stage
fi

echo "== purge"
# shellcheck disable=SC2086
apt-get purge -y -qq $PKGS >"$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log"; exit 1; }
left=""
for p in $PKGS; do
    ! dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^[ir]' || left="$left $p"
    while read -r f; do
        [ -d "$f" ] || [ ! -e "$f" ] || left="$left $f"
    done <"$WORK/$p.files"
done
check "purge: no package and no file of theirs left${left:+ (left:$left)}" [ -z "$left" ]
check "purge: /etc/cidguard is gone" [ ! -e /etc/cidguard ]
check "purge: /var/lib/cidguard (logs, certificates, origid secret) is gone" [ ! -e /var/lib/cidguard ]
check "purge: the cidguard user stays (its uid may own copies elsewhere)" sh -c "id cidguard >/dev/null"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
