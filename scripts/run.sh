#!/bin/sh
# The README's "run it" command: installs what is needed, builds, shows the
# command line signing and verifying a call, then starts cidguardd in
# zero-configuration mode in the foreground (Ctrl-C stops it).  Its banner
# prints a command to paste into another terminal.
set -e
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
CG=./build/cidguard
DIR=${CIDGUARD_DEMO_DIR:-/tmp/cidguard-demo}
$CG pki init "$DIR" --spc 1234
X5U=https://cr.example.net/sp-1234.pem
echo
echo "== sign: +44 20 7946 0000 calls +1 415 555 0100, attestation A"
ID=$($CG sign --key "$DIR/sp-1234.key" --x5u $X5U --orig "+44 20 7946 0000" --dest "+1 415 555 0100" --attest A)
echo "Identity: $ID"
echo
echo "== verify the genuine call"
$CG verify --identity "$ID" --from "sip:+442079460000@sbc.example;user=phone" --to "tel:+14155550100" \
    --cert "$DIR/sp-1234.pem" --trust "$DIR/root.pem" --crl "$DIR/crl.pem"
echo
echo "== the same Identity header replayed on a call that shows another number"
$CG verify --identity "$ID" --from "+442079460001" --to "tel:+14155550100" \
    --cert "$DIR/sp-1234.pem" --trust "$DIR/root.pem" --crl "$DIR/crl.pem" || true
echo
echo "== cidguardd, zero configuration (SIP 127.0.0.1:5060/5070, HTTP 127.0.0.1:8085, signing API 127.0.0.1:8086)"
exec ./build/cidguardd --state-dir "${CIDGUARDD_STATE_DIR:-/tmp/cidguardd-state}"
