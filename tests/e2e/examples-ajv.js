// examples-ajv.js: cross-checks tests/services/ocpp-core/ocpp_examples.json with ocpp-rpc's ajv validator
// (an independent implementation): every valid example must pass, every invalid one fail.
// 1.6 and 2.0.1 use ocpp-rpc's bundled schemas (ids urn:X.req / urn:X.conf); 2.1 uses the
// official file the gateway is generated from, proto/ocpp/ocpp2_1.json (ids urn:XRequest /
// urn:XResponse, a SEND urn:X), since ocpp-rpc 2.2.1 looks 2.1 ids up under the 2.0.1 names.
const {createValidator} = require('ocpp-rpc/lib/validator');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');
const fs = require('fs');
const path = require('path');
const doc = JSON.parse(fs.readFileSync(process.argv[2]));
const v21 = JSON.parse(fs.readFileSync(path.join(__dirname, '../../proto/ocpp/ocpp2_1.json')));
const v = {'1.6': createValidator('ocpp1.6', require('ocpp-rpc/lib/schemas/ocpp1_6.json')),
           '2.0.1': createValidator('ocpp2.0.1', require('ocpp-rpc/lib/schemas/ocpp2_0_1.json')),
           '2.1': ajv21()};
// ajv as ocpp-rpc sets it up, without strict mode: the official 2.1 file puts
// additionalProperties on its enum types, which strict mode reports (harmless) on every load
function ajv21() {
  const ajv = new Ajv({strict: false});
  addFormats(ajv);
  ajv.addSchema(v21);
  return {validate(id, payload) {
    const f = ajv.getSchema(id);
    if (!f) throw new Error(`no schema ${id}`);
    if (!f(payload)) throw new Error(ajv.errorsText(f.errors));
  }};
}
const ids21 = new Set(v21.map(s => s.$id));
function schemaId(c) {
  if (c.version !== '2.1')
    return `urn:${c.action}.${c.message === 'request' ? 'req' : 'conf'}`;
  const id = `urn:${c.action}${c.message === 'request' ? 'Request' : 'Response'}`;
  return ids21.has(id) || c.message !== 'request' ? id : `urn:${c.action}`; // SEND
}
let ok = 0, bad = 0;
const per = {};
for (const c of doc.cases) {
  let valid = true;
  try { v[c.version].validate(schemaId(c), c.payload); } catch (e) { valid = false; }
  if (valid === (c.error === null)) { ok++; per[c.version] = (per[c.version] || 0) + 1; }
  else { bad++; if (bad < 10) console.log('disagree', c.version, c.action, c.message, c.why, c.path); }
}
console.log(`ajv agrees on ${ok} (${JSON.stringify(per)}), disagrees on ${bad}`);
process.exit(bad || ok === 0 || !per['2.1'] ? 1 : 0);
