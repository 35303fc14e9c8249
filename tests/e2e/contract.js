// contract.js: validates CloudEvents (one JSON per line, from a file or stdin) against the
// published contracts in proto/unified/ with ajv (an implementation independent of the C code).
// Usage: node contract.js <schema-dir> [records.ndjson] [schema-file]: each line is validated
// against schema-file (default cloudevent.json: events; command.json: command records;
// result.json: results). Exit 1 when any record fails or none was given.
const Ajv = require('ajv');
const addFormats = require('ajv-formats');
const fs = require('fs');
const path = require('path');
const dir = process.argv[2];
const ajv = new Ajv({allErrors: true, strict: false});
addFormats(ajv);
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.json')))
  ajv.addSchema(JSON.parse(fs.readFileSync(path.join(dir, f))));
const validate = ajv.getSchema('https://ocppgw.example/unified/' + (process.argv[4] || 'cloudevent.json'));
const text = fs.readFileSync(process.argv[3] && process.argv[3] !== '-' ? process.argv[3] : 0, 'utf8');
let ok = 0, bad = 0;
const types = {};
for (const line of text.split('\n')) {
  if (!line.trim()) continue;
  const ev = JSON.parse(line);
  if (validate(ev)) { ok++; const t = ev.type || ev.status || ev.action; types[t] = (types[t] || 0) + 1; continue; }
  bad++;
  if (bad <= 10) console.log('INVALID', ev.type || ev.command_id, JSON.stringify(validate.errors.slice(0, 3)), line.slice(0, 400));
}
console.log(`contract: ${ok} valid, ${bad} invalid; types: ${JSON.stringify(types)}`);
process.exit(bad || ok === 0 ? 1 : 0);
