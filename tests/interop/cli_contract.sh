#!/bin/bash
# The CLI contract of docs/cli.md: exit 0 passed, 1 not passed, 2 bad usage
# with one clear line on stderr and never a crash; --batch keeps order on
# any number of threads.
. "$(dirname "$0")/lib.sh"
pki
P=$WORK/pki
X5U=https://cr.example.net/sp-1234.pem
V="--cert $P/sp-1234.pem --trust $P/root.pem --crl $P/crl.pem"

# usage errors: exit 2, exactly one line on stderr, nothing on stdout
usage() {
    name=$1
    shift
    "$@" >"$WORK/out" 2>"$WORK/err"
    got=$?
    lines=$(wc -l <"$WORK/err")
    if [ "$got" = 2 ] && [ "$lines" = 1 ] && [ ! -s "$WORK/out" ] && grep -q '^cidguard: ' "$WORK/err"; then
        ok "$name: $(cat "$WORK/err")"
    else
        bad "$name (exit $got, $lines stderr lines)"
        head -3 "$WORK/err"
    fi
}
usage "unknown command" "$CG" frobnicate
usage "unknown flag" "$CG" sign --bogus
usage "flag without value" "$CG" sign --key
usage "missing options" "$CG" sign --key "$P/sp-1234.key"
usage "unreadable key" "$CG" sign --key /nonexistent/key.pem --x5u "$X5U" --orig +1 --dest +2 --attest A
usage "public key is not a signing key" "$CG" sign --key "$P/sp-1234-leaf.pem" --x5u "$X5U" --orig +1 --dest +2 --attest A
usage "bad attest" "$CG" sign --key "$P/sp-1234.key" --x5u "$X5U" --orig +1 --dest +2 --attest a
usage "orig not a number" "$CG" sign --key "$P/sp-1234.key" --x5u "$X5U" --orig alice --dest +2 --attest A
usage "x5u not a URL" "$CG" sign --key "$P/sp-1234.key" --x5u "ftp://x" --orig +1 --dest +2 --attest A
usage "malformed Identity header" "$CG" verify --identity 'not-a-token;;' --from +1 --to +2 $V
usage "bad --at" "$CG" verify --identity a.b.c --from +1 --to +2 --at soon
usage "verify without --from" "$CG" verify --identity a.b.c --to +2
usage "unreadable trust file" "$CG" verify --identity a.b.c --from +1 --to +2 --trust /nonexistent
usage "certificate file that is not PEM" "$CG" verify --identity a.b.c --from +1 --to +2 --cert /etc/hostname
usage "inspect garbage" "$CG" inspect 'garbage value'
usage "pki without directory" "$CG" pki init
usage "pki bad SPC" "$CG" pki init "$WORK/x" --spc 'bad spc'
head -c 102400 /dev/zero | tr '\0' 'A' >"$WORK/big"
usage "100 KB Identity header on stdin" "$CG" verify --identity - --from +1 --to +2 $V <"$WORK/big"

# verdicts
ID=$("$CG" sign --key "$P/sp-1234.key" --x5u "$X5U" --orig "020 7946 0000" --dest "+1 415 555 0100" \
    --attest A --country-code 44)
check "signed call passes (exit 0)" 0 "$CG" verify --identity "$ID" --from "sip:+442079460000@sbc;user=phone" --to "tel:+14155550100" $V
expect_json "verstat passed" verstat '"TN-Validation-Passed"'
check "national From with --country-code 44 matches" 0 "$CG" verify --identity "$ID" --from "02079460000" --to "+14155550100" --country-code 44 $V
check "spoofed From is not passed (exit 1)" 1 "$CG" verify --identity "$ID" --from +442079460001 --to +14155550100 $V
expect_json "reason orig_mismatch" reason_name '"orig_mismatch"'
echo "$ID" >"$WORK/id"
check "identity from stdin" 0 "$CG" verify --identity - --from +442079460000 --to +14155550100 $V <"$WORK/id"
check "stale when evaluated two minutes later (--at)" 1 "$CG" verify --identity "$ID" --from +442079460000 --to +14155550100 --at $(( $(date +%s) + 120 )) $V
expect_json "403 Stale Date" reason_code 403

# several Identity headers: a div PASSporT and the SHAKEN one; SHAKEN decides
DIV=$("$CG" sign --key "$P/sp-1234.key" --x5u "$X5U" --orig +442079460000 --dest +14155550100 --ppt div --div +14155550199)
check "div + shaken headers pass" 0 "$CG" verify --identity "$DIV" --identity "$ID" --from +442079460000 --to +14155550100 $V
expect_json "the SHAKEN header (index 1) decided" identity_index 1
expect_json "attest from the SHAKEN header" attest '"A"'
RCD=$("$CG" sign --key "$P/sp-1234.key" --x5u "$X5U" --orig +442079460000 --dest +14155550100 --attest A \
    --nam "Example Bank" --apn +442079460099 --jcd '["vcard",[["version",{},"text","4.0"]]]' --rcdi '{"/jcd":"sha256-x"}' --crn "Card check")
check "every RCD claim signs and verifies" 0 "$CG" verify --identity "$RCD" --from +442079460000 --to +14155550100 $V
usage "invalid jCard JSON" "$CG" sign --key "$P/sp-1234.key" --x5u "$X5U" --orig +1 --dest +2 --attest A --jcd '[oops'

# policy check: the lists the daemon loads, bad lines reported with file:line
PV=$(cd "$(dirname "$0")/../vectors/policy" && pwd)
"$CG" policy check --dno "$PV/dno.csv" --protected "$PV/protected.csv" --ingress "$PV/ingress.csv" \
    --ofcom "$PV/ofcom_sample.csv" >"$WORK/out" 2>"$WORK/err"
[ $? = 0 ] && grep -q "dno.csv:5:" "$WORK/err" && grep -q "ingress.csv:4:" "$WORK/err" &&
    ok "policy check reports bad lines with file:line and loads the rest" || bad "policy check lists"
check "policy check: a bank number signed C by a gateway is blocked (exit 1)" 1 "$CG" policy check \
    --protected "$PV/protected.csv" --caller "020 7946 0100" --country-code 44 --attest C --spc GW9
expect_json "action block" action '"block"'
check "policy check: signed A by the bank's SPC carries the brand" 0 "$CG" policy check \
    --protected "$PV/protected.csv" --caller +442079460100 --spc BANK1
expect_json "brand" brand '"Example Bank"'
check "policy check: a bank's number in From behind a consumer's PAI, unsigned: blocked" 1 \
    "$CG" policy check --protected "$PV/protected.csv" --caller +447400012345 \
    --presented +442079460100 --callee +447400099000 --verstat none
expect_json "the finding is the presentation number's" presented_reasons \
    '"uk_allocation_unknown,protected_no_intent"'
check "policy check: with its call intent it passes, with the brand" 0 "$CG" policy check \
    --protected "$PV/protected.csv" --caller +447400012345 --presented +442079460100 \
    --callee +447400099000 --verstat none --intent
expect_json "brand by intent" brand '"Example Bank"'
check "policy check: a UK mobile from an international trunk is withheld (exit 1)" 1 "$CG" policy \
    check --ingress "$PV/ingress.csv" --caller +447400012345 --trunk intl-gw-1 --verstat none
expect_json "action withhold" action '"withhold"'
usage "policy check with an unreadable list" "$CG" policy check --dno /nonexistent/dno.csv

# batch: order kept on 2 threads, every line answered, garbage gets serviceException
NOW=$(date +%s)
: >"$WORK/batch"
for i in $(seq 1 300); do
    case $((i % 3)) in
    0) printf '{"verificationRequest":{"from":{"tn":"442079460000"},"to":{"tn":["14155550100"]},"time":%s,"identity":"%s"}}\n' "$NOW" "$ID" ;;
    1) printf '{"verificationRequest":{"from":{"tn":"4420794699%02d"},"to":{"tn":["14155550100"]},"time":%s,"identity":"%s"}}\n' $((i % 100)) "$NOW" "$ID" ;;
    2) printf 'garbage line %s\n' "$i" ;;
    esac
done >>"$WORK/batch"
head -c 3000 /dev/urandom | tr -d '\n' >>"$WORK/batch"
echo >>"$WORK/batch"
"$CG" verify --batch "$WORK/batch" --threads 1 $V >"$WORK/b1" 2>/dev/null
r1=$?
"$CG" verify --batch - --threads 2 $V <"$WORK/batch" >"$WORK/b2" 2>/dev/null
r2=$?
[ "$r1" = 1 ] && [ "$r2" = 1 ] && ok "batch exit 1 when some lines do not pass" || bad "batch exit codes $r1 $r2"
[ "$(wc -l <"$WORK/b1")" = 301 ] && ok "batch answers every line" || bad "batch answered $(wc -l <"$WORK/b1") of 301"
sed 's/"origid":"[^"]*"//' "$WORK/b1" >"$WORK/b1n"
sed 's/"origid":"[^"]*"//' "$WORK/b2" >"$WORK/b2n"
cmp -s "$WORK/b1n" "$WORK/b2n" && ok "batch output identical on 1 and 2 threads (order kept)" || bad "batch order differs"
[ "$(grep -c TN-Validation-Passed "$WORK/b1")" = 100 ] && ok "100 genuine lines pass" || bad "passed lines: $(grep -c TN-Validation-Passed "$WORK/b1")"
[ "$(grep -c SVC4006 "$WORK/b1")" = 101 ] && ok "garbage lines get SVC4006" || bad "SVC4006 lines: $(grep -c SVC4006 "$WORK/b1")"
sed -n 1p "$WORK/b1" | grep -q '"reason_name":"orig_mismatch"' && ok "line 1 is a spoofed one" || bad "line 1: $(sed -n 1p "$WORK/b1")"
# customers: a new token's hash line, checked against an independent SHA-256
out=$("$CG" customers token)
tok=$(printf '%s\n' "$out" | sed -n 's/^token:  //p')
line=$(printf '%s\n' "$out" | sed -n 's/^tokens: //p')
[ "${#tok}" -ge 43 ] && [ "$line" = "sha256:$(printf %s "$tok" | sha256sum | cut -d' ' -f1)" ] &&
    ok "customers token: a 256-bit token and the sha256 of it" || bad "customers token: $out"
"$CG" customers token "$(printf 'has space')" >/dev/null 2>&1 && bad "a token with a space hashed" ||
    ok "customers token refuses a token with a space"
printf 'customer,addresses,numbers,tokens\nacme,10.0.0.0/8,4420794600*,%s\nbad,999.1.1.1,1,\n' "$line" >"$WORK/customers.csv"
"$CG" customers check "$WORK/customers.csv" >"$WORK/cc.out" 2>"$WORK/cc.err"
[ $? = 1 ] && grep -q "^acme: 1 address(es), 1 number(s), 1 token(s)" "$WORK/cc.out" &&
    grep -q "customers.csv:3:" "$WORK/cc.err" && ok "customers check lists customers and reports bad lines" ||
    bad "customers check: $(cat "$WORK/cc.out" "$WORK/cc.err")"
finish
