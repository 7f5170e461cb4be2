#!/bin/bash
# Interoperability with the npm package jose (an independent JWS
# implementation): it verifies our JWS with our public key, and it signs
# PASSporTs with JSON member orders we would never emit, which we must
# verify over the received bytes.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "node not installed"; exit 77; }
if [ ! -d "$HERE/node_modules/jose" ]; then
    (cd "$HERE" && npm install --no-audit --no-fund --silent) || { echo "npm install failed"; exit 1; }
fi
JOSE="node $HERE/jose_check.mjs"
pki
P=$WORK/pki
X5U=https://cr.example.net/sp-1234.pem
openssl ec -in "$P/sp-1234.key" -pubout -out "$WORK/pub.pem" 2>/dev/null
openssl ec -in "$P/sp-567A.key" -pubout -out "$WORK/pub2.pem" 2>/dev/null

for att in A B C; do
    ID=$("$CG" sign --key "$P/sp-1234.key" --x5u "$X5U" --orig +442079460000 --dest +14155550100 \
        --attest $att)
    TOKEN=${ID%%;*}
    check "jose verifies cidguard's JWS (attest $att)" 0 $JOSE verify "$TOKEN" "$WORK/pub.pem"
    expect_json "jose sees alg ES256" alg '"ES256"'
    expect_json "jose sees attest $att" attest "\"$att\""
done
ID=$("$CG" sign --key "$P/sp-1234.key" --x5u "$X5U" --orig +442079460000 --dest +14155550100 \
    --attest A --nam "Example Bank" --crn "Card payment check")
check "jose verifies cidguard's JWS with rcd claims" 0 $JOSE verify "${ID%%;*}" "$WORK/pub.pem"
expect_json "jose sees rcd.nam" nam '"Example Bank"'
check "jose rejects it under another key" 1 $JOSE verify "${ID%%;*}" "$WORK/pub2.pem"

# jose signs members in an order we never emit: we verify the bytes received.
NOW=$(date +%s)
HDR='{"x5u":"'$X5U'","typ":"passport","ppt":"shaken","alg":"ES256"}'
PAY='{"origid":"4437c7eb-8f92-495c-8a5b-b8a5b1a2a0f1","orig":{"tn":"442079460000"},"iat":'$NOW',"dest":{"tn":["14155550100"]},"attest":"B","mky":[{"alg":"sha-256","dig":"AB:CD"}]}'
TOKEN=$($JOSE sign "$P/sp-1234.key" "$HDR" "$PAY")
check "cidguard verifies a jose-signed PASSporT with non-canonical order and an extra claim" 0 \
    "$CG" verify --identity "$TOKEN;info=<$X5U>;alg=ES256;ppt=shaken" --from +442079460000 \
    --to +14155550100 --cert "$P/sp-1234.pem" --trust "$P/root.pem" --crl "$P/crl.pem"
expect_json "attest B" attest '"B"'
PAY_STR='{"attest":"A","dest":{"tn":["14155550100"]},"iat":"'$NOW'","orig":{"tn":"442079460000"},"origid":"x"}'
TOKEN=$($JOSE sign "$P/sp-1234.key" "$HDR" "$PAY_STR")
check "cidguard rejects a jose-signed PASSporT with a string iat" 1 "$CG" verify \
    --identity "$TOKEN;info=<$X5U>;alg=ES256;ppt=shaken" --from +442079460000 \
    --to +14155550100 --cert "$P/sp-1234.pem" --trust "$P/root.pem"
expect_json "reason claims (438)" reason_code 438
finish
