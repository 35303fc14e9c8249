// contract.js: validates CloudEvents (one JSON per line, from a file or stdin) against the
// published contracts in proto/unified/ with ajv (an implementation independent of the C code).
// Usage: node contract.js <schema-dir> [events.ndjson]. Exit 1 when any event fails or none given.
const Ajv = require('ajv');
const addFormats = require('ajv-formats');
const fs = require('fs');
const path = require('path');
const dir = process.argv[2];
const ajv = new Ajv({allErrors: true, strict: false});
addFormats(ajv);
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.json')))
  ajv.addSchema(JSON.parse(fs.readFileSync(path.join(dir, f))));
const validate = ajv.getSchema('https://ocppgw.example/unified/cloudevent.json');
const text = fs.readFileSync(process.argv[3] || 0, 'utf8');
let ok = 0, bad = 0;
const types = {};
for (const line of text.split('\n')) {
  if (!line.trim()) continue;
  const ev = JSON.parse(line);
  if (validate(ev)) { ok++; types[ev.type] = (types[ev.type] || 0) + 1; continue; }
  bad++;
  if (bad <= 10) console.log('INVALID', ev.type, JSON.stringify(validate.errors.slice(0, 3)), line.slice(0, 400));
}
console.log(`contract: ${ok} valid, ${bad} invalid; types: ${JSON.stringify(types)}`);
process.exit(bad || ok === 0 ? 1 : 0);
