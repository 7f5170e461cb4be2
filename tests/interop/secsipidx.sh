#!/bin/bash
# Interoperability with secsipidx (the library behind Kamailio's secsipid
# module, an independent Go implementation): what it signs, we verify; what
# we sign, it verifies; and each rejects the other's tampered tokens.
. "$(dirname "$0")/lib.sh"
command -v secsipidx >/dev/null || { echo "secsipidx not installed"; exit 77; }
pki
P=$WORK/pki
X5U=https://cr.example.net/sp-1234.pem
openssl ec -in "$P/sp-1234.key" -pubout -out "$WORK/pub.pem" 2>/dev/null

# secsipidx signs (canonical SHAKEN, A and C), cidguard verifies with the chain
for att in A C; do
    ID=$(secsipidx -sign-full -k "$P/sp-1234.key" -x5u "$X5U" -orig-tn 442079460000 \
        -dest-tn 14155550100 -attest $att -orig-id 123e4567-e89b-12d3-a456-426614174000)
    check "secsipidx-signed ($att) verifies in cidguard" 0 "$CG" verify --identity "$ID" \
        --from +442079460000 --to +14155550100 --cert "$P/sp-1234.pem" --trust "$P/root.pem" \
        --crl "$P/crl.pem"
    expect_json "attest $att carried through" attest "\"$att\""
    expect_json "SPC from our TNAuthList" spc '"1234"'
    check "secsipidx-signed token with wrong To fails (438)" 1 "$CG" verify --identity "$ID" \
        --from +442079460000 --to +14155550199 --cert "$P/sp-1234.pem" --trust "$P/root.pem"
    expect_json "dest mismatch reason" reason_name '"dest_mismatch"'
done

# secsipidx signs with a key whose certificate we do not trust: 437
ID=$(secsipidx -sign-full -k "$P/sp-567A.key" -x5u "$X5U" -orig-tn 442079460000 \
    -dest-tn 14155550100 -attest A -orig-id x)
check "secsipidx-signed, wrong key for the x5u bundle: signature fails" 1 "$CG" verify \
    --identity "$ID" --from +442079460000 --to +14155550100 --cert "$P/sp-1234.pem" \
    --trust "$P/root.pem"
expect_json "reason signature" reason_name '"signature"'

# cidguard signs, secsipidx verifies the signature
for att in A B C; do
    ID=$("$CG" sign --key "$P/sp-1234.key" --x5u "$X5U" --orig +442079460000 \
        --dest +14155550100,+14155550101 --attest $att)
    check "cidguard-signed ($att) verifies in secsipidx" 0 secsipidx -check -expire 600 -identity "$ID" \
        -fpubkey "$WORK/pub.pem"
done
ID=$("$CG" sign --key "$P/sp-1234.key" --x5u "$X5U" --orig +442079460000 --dest +14155550100 \
    --attest A --nam "Example Bank" --crn "Card payment check")
check "cidguard-signed with rcd/crn verifies in secsipidx" 0 secsipidx -check -expire 600 -identity "$ID" \
    -fpubkey "$WORK/pub.pem"
TAMPERED=$(echo "$ID" | sed 's/\.\([A-Za-z0-9_-]\)\([A-Za-z0-9_-]*\);/.\2A;/')
check "secsipidx rejects a cidguard token with a tampered signature" 5 secsipidx -check -expire 600 \
    -identity "$TAMPERED" -fpubkey "$WORK/pub.pem"
openssl ec -in "$P/sp-567A.key" -pubout -out "$WORK/pub2.pem" 2>/dev/null
check "secsipidx rejects a cidguard token under another key" 5 secsipidx -check -expire 600 \
    -identity "$ID" -fpubkey "$WORK/pub2.pem"
finish
