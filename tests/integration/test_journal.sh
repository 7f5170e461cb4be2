#!/bin/sh
# The daemon's log lines under systemd's journal and elsewhere.
#
#     sh test_journal.sh CIDGUARDD
#
# systemd names the journal stream it connects to a service's stdout and
# stderr in JOURNAL_STREAM (device:inode).  Pointing it at the file the
# daemon writes to makes the daemon believe it runs under the journal: every
# line must then start with an sd-daemon "<N>" priority and carry no
# timestamp; without it (or naming another file) lines are written bare.
# The priority is the one stated where the message is written, whatever its
# words: an error that names no failure is still <3>, a fallback that says
# "failed" is <4>.
# The daemon listens on ports the kernel picks (port 0).
set -u
CGD=$1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PASS=0
FAIL=0
check() {
    if eval "$2"; then
        PASS=$((PASS + 1))
        echo "ok   - $1"
    else
        FAIL=$((FAIL + 1))
        echo "FAIL - $1"
        sed 's/^/    /' "$WORK/out"
    fi
}
journal() { # the JOURNAL_STREAM value naming FILE
    stat -c '%d:%i' "$1"
}

# A usage error: one error line, then the usage text at the default level.
: >"$WORK/out"
JOURNAL_STREAM=$(journal "$WORK/out") "$CGD" --no-such-option >>"$WORK/out" 2>&1
check "usage error under the journal: <3> first, every line prefixed" \
    'head -1 "$WORK/out" | grep -q "^<3>cidguardd: bad option --no-such-option$" &&
     ! grep -qv "^<[0-7]>" "$WORK/out" &&
     grep -q "^<6>  --directives prints every configuration directive" "$WORK/out"'
: >"$WORK/out"
env -u JOURNAL_STREAM "$CGD" --no-such-option >>"$WORK/out" 2>&1
check "usage error on a terminal or file: no prefix" \
    'head -1 "$WORK/out" | grep -q "^cidguardd: bad option --no-such-option$" &&
     ! grep -q "^<[0-7]>" "$WORK/out"'
: >"$WORK/other"
: >"$WORK/out"
JOURNAL_STREAM=$(journal "$WORK/other") "$CGD" --no-such-option >>"$WORK/out" 2>&1
check "JOURNAL_STREAM naming another file: no prefix" '! grep -q "^<[0-7]>" "$WORK/out"'

# A refused configuration whose message names no failure: an error all the same.
printf '[server]\nhttp_listen = 127.0.0.1:0\nsip_verify_listen = 127.0.0.1:0\nsip_sign_listen = 127.0.0.1:0\n[policy]\ncampaign_origins = 300\n' \
    >"$WORK/bad.conf"
: >"$WORK/out"
JOURNAL_STREAM=$(journal "$WORK/out") "$CGD" -c "$WORK/bad.conf" --state-dir "$WORK/state" \
    >>"$WORK/out" 2>&1
# shellcheck disable=SC2034 # read by check, through eval
rc=$?
check "a refused configuration without a word of failure at error (<3>), exit 1" \
    '[ $rc -eq 1 ] &&
     grep -q "^<3>cidguardd: \[policy\] campaign_origins must be a power of two$" "$WORK/out"'

# A running daemon: the banner, a refused reload, a good reload, the drain.
cat >"$WORK/good.conf" <<EOF
[server]
http_listen = 127.0.0.1:0
sip_verify_listen = 127.0.0.1:0
sip_sign_listen = 127.0.0.1:0
decision_log = off
[verify]
crl_url = http://127.0.0.1:1/crl.pem
[sign]
signing_log = off
EOF
cp "$WORK/good.conf" "$WORK/d.conf"
: >"$WORK/out"
JOURNAL_STREAM=$(journal "$WORK/out") "$CGD" -c "$WORK/d.conf" --state-dir "$WORK/state" \
    >>"$WORK/out" 2>&1 &
pid=$!
# wait_for PATTERN: up to 10 s (CG_TEST_TIME_SCALE times longer under TSan)
wait_for() {
    i=0
    while ! grep -q "$1" "$WORK/out"; do
        i=$((i + 1))
        [ $i -lt $((100 * ${CG_TEST_TIME_SCALE:-1})) ] || return 1
        sleep 0.1
    done
}
wait_for "HTTP API"
echo "no_such_directive = 1" >>"$WORK/d.conf"
kill -HUP $pid
wait_for "reload failed"
cp "$WORK/good.conf" "$WORK/d.conf"
kill -HUP $pid
wait_for "configuration reloaded"
kill -TERM $pid
wait $pid
# shellcheck disable=SC2034 # read by check, through eval
rc=$?
check "the daemon drains and exits 0" '[ $rc -eq 0 ]'
check "banner at info (<6>)" 'grep -q "^<6>cidguardd .*: [0-9]* worker(s); state in " "$WORK/out"'
check "a refused reload at error (<3>)" \
    'grep -q "^<3>cidguardd: reload failed; keeping the running configuration$" "$WORK/out" &&
     grep -q "^<3>.*unknown directive \[sign\] no_such_directive$" "$WORK/out"'
check "a failed CRL download, kept the previous one, at warning (<4>)" \
    'grep -q "^<4>cidguardd: CRL download from http://127.0.0.1:1/crl.pem failed (.*); keeping the previous one$" "$WORK/out"'
check "a good reload and the drain at info (<6>)" \
    'grep -q "^<6>cidguardd: configuration reloaded$" "$WORK/out" &&
     grep -q "^<6>cidguardd: draining$" "$WORK/out"'
check "every line prefixed, none with a timestamp" \
    '! grep -qv "^<[0-7]>" "$WORK/out" &&
     ! grep -qE "^<[0-7]>\[?[0-9]{4}-[0-9]{2}-[0-9]{2}|^<[0-7]>[A-Z][a-z]{2} [ 0-9][0-9] " "$WORK/out"'
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
