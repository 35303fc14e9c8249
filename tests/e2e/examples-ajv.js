// examples-ajv.js: cross-checks tests/services/ocpp-core/ocpp_examples.json with ocpp-rpc's ajv validator
// (an independent implementation): every valid example must pass, every invalid one fail.
const {createValidator} = require('ocpp-rpc/lib/validator');
const fs = require('fs');
const doc = JSON.parse(fs.readFileSync(process.argv[2]));
const v = {'1.6': createValidator('ocpp1.6', require('ocpp-rpc/lib/schemas/ocpp1_6.json')),
           '2.0.1': createValidator('ocpp2.0.1', require('ocpp-rpc/lib/schemas/ocpp2_0_1.json'))};
let ok = 0, bad = 0;
for (const c of doc.cases) {
  const id = `urn:${c.action}.${c.message === 'request' ? 'req' : 'conf'}`;
  let valid = true;
  try { v[c.version].validate(id, c.payload); } catch (e) { valid = false; }
  if (valid === (c.error === null)) ok++; else { bad++; if (bad < 10) console.log('disagree', c.version, c.action, c.message, c.why, c.path); }
}
console.log(`ajv agrees on ${ok}, disagrees on ${bad}`);
process.exit(bad || ok === 0 ? 1 : 0);
