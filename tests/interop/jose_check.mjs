// Independent JWS implementation (panva/jose) for tests/interop/jose.sh.
//   node jose_check.mjs verify TOKEN PUBLIC.pem   -> prints the protected header and payload
//   node jose_check.mjs sign PRIVATE.pem HEADER_JSON PAYLOAD_JSON -> prints a compact JWS
import { readFileSync } from 'node:fs';
import { CompactSign, compactVerify, importPKCS8, importSPKI } from 'jose';

const [mode, a, b, c] = process.argv.slice(2);
try {
  if (mode === 'verify') {
    const key = await importSPKI(readFileSync(b, 'utf8'), 'ES256');
    const { payload, protectedHeader } = await compactVerify(a, key, { algorithms: ['ES256'] });
    console.log(JSON.stringify({ header: protectedHeader, payload: JSON.parse(new TextDecoder().decode(payload)) }));
  } else if (mode === 'sign') {
    const key = await importPKCS8(readFileSync(a, 'utf8'), 'ES256');
    const jws = await new CompactSign(new TextEncoder().encode(c))
      .setProtectedHeader(JSON.parse(b))
      .sign(key);
    console.log(jws);
  } else {
    throw new Error('usage: verify TOKEN PUB | sign PRIV HEADER PAYLOAD');
  }
} catch (e) {
  console.error(String(e));
  process.exit(1);
}
