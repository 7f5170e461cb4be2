#!/bin/bash
# A SHAKEN PKI built with the openssl command line only (root, intermediate,
# SP certificate with a TNAuthList, a direct CRL kept by 'openssl ca'), so
# that our own PKI code is not the only source of certificates.  Calls
# signed by cidguard and by secsipidx with that key verify; after
# 'openssl ca -revoke' they fail as revoked.
. "$(dirname "$0")/lib.sh"
D=$WORK/ossl
mkdir -p "$D/db"
cd "$D" || exit 1
touch db/index.txt
echo 1000 > db/crlnumber
echo 01 > db/serial
cat > ca.cnf <<'CNF'
[ca]
default_ca = ica
[ica]
dir = .
database = db/index.txt
new_certs_dir = db
certificate = ica.pem
private_key = ica.key
crlnumber = db/crlnumber
serial = db/serial
default_md = sha256
default_crl_days = 7
default_days = 30
policy = any
copy_extensions = none
[any]
commonName = supplied
[root_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ica_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
certificatePolicies = 2.16.840.1.114569.1.1.3
[sp_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
certificatePolicies = 2.16.840.1.114569.1.1.3
crlDistributionPoints = URI:http://127.0.0.1/ica.crl
# TNAuthList with SPC 7777 (RFC 8226): SEQUENCE { [0] IA5String "7777" }
1.3.6.1.5.5.7.1.26 = DER:30:08:a0:06:16:04:37:37:37:37
CNF
q() { "$@" >/dev/null 2>&1 || { echo "openssl step failed: $*"; exit 1; }; }
q openssl ecparam -name prime256v1 -genkey -noout -out root.key
q openssl req -x509 -new -key root.key -subj "/C=US/O=openssl PKI/CN=openssl SHAKEN ROOT" -days 365 \
    -config ca.cnf -extensions root_ext -out root.pem
q openssl ecparam -name prime256v1 -genkey -noout -out ica.key
q openssl req -new -key ica.key -subj "/C=US/O=openssl PKI/CN=openssl SHAKEN CA" -out ica.csr
q openssl x509 -req -in ica.csr -CA root.pem -CAkey root.key -CAcreateserial -days 200 \
    -extfile ca.cnf -extensions ica_ext -out ica.pem
q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out sp.key
q openssl req -new -key sp.key -subj "/C=US/O=openssl PKI/CN=SHAKEN 7777" -out sp.csr
q openssl ca -batch -config ca.cnf -extensions sp_ext -in sp.csr -out sp-leaf.pem -notext
cat sp-leaf.pem ica.pem > sp.pem
q openssl ca -batch -config ca.cnf -gencrl -out ica.crl
X5U=https://sti-cr.example.org/7777.pem

check "cidguard reads the openssl-built bundle" 0 "$CG" inspect "$D/sp.pem"
grep -q '"spc": "7777"' "$WORK/out" && ok "inspect shows SPC 7777" || bad "inspect shows SPC 7777"

ID=$("$CG" sign --key "$D/sp.key" --x5u "$X5U" --orig +442079460000 --dest +14155550100 --attest A)
check "cidguard-signed call verifies against the openssl PKI with its CRL" 0 "$CG" verify \
    --identity "$ID" --from +442079460000 --to +14155550100 --cert "$D/sp.pem" \
    --trust "$D/root.pem" --crl "$D/ica.crl"
expect_json "SPC 7777" spc '"7777"'
if command -v secsipidx >/dev/null; then
    ID2=$(secsipidx -sign-full -k "$D/sp.key" -x5u "$X5U" -orig-tn 442079460000 \
        -dest-tn 14155550100 -attest B -orig-id abc)
    check "secsipidx-signed call verifies against the openssl PKI" 0 "$CG" verify \
        --identity "$ID2" --from +442079460000 --to +14155550100 --cert "$D/sp.pem" \
        --trust "$D/root.pem" --crl "$D/ica.crl"
fi
check "the same call fails with no trust anchor at all" 1 "$CG" verify --identity "$ID" \
    --from +442079460000 --to +14155550100 --cert "$D/sp.pem"
expect_json "reason cert_invalid (437)" reason_code 437

q openssl ca -batch -config ca.cnf -revoke sp-leaf.pem -crl_reason keyCompromise
q openssl ca -batch -config ca.cnf -gencrl -out ica.crl
check "after openssl ca -revoke the call fails" 1 "$CG" verify --identity "$ID" \
    --from +442079460000 --to +14155550100 --cert "$D/sp.pem" --trust "$D/root.pem" \
    --crl "$D/ica.crl"
expect_json "reason cert_revoked" reason_name '"cert_revoked"'
expect_json "verstat failed" verstat '"TN-Validation-Failed"'
finish
