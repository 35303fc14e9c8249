// ocpp21-frames.js: validates OCPP 2.1 messages with ajv over the official 2.1 schemas
// (proto/ocpp/ocpp2_1.json, ids urn:<Action>Request / urn:<Action>Response, a SEND urn:<Action>).
//
//   node ocpp21-frames.js <ocpp2_1.json> <lines.jsonl>
// Each line: {"action", "message": "request" | "response" | "send", "payload"}. Prints a summary
// and exits 1 if any message is invalid (or there are none).
'use strict';
const fs = require('fs');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const [schemaFile, linesFile] = process.argv.slice(2);
// not strict: the official file has "comment" members and enums with additionalProperties
const ajv = new Ajv({ strict: false, allErrors: false });
addFormats(ajv);
ajv.addSchema(JSON.parse(fs.readFileSync(schemaFile)));
const v = {
  validate(id, data) {
    const f = ajv.getSchema(id);
    if (!f) throw new Error(`no schema ${id}`);
    if (!f(data)) throw new Error(ajv.errorsText(f.errors));
  },
};
const suffix = { request: 'Request', response: 'Response', send: '' };
let ok = 0;
const bad = [];
const seen = {};
for (const line of fs.readFileSync(linesFile, 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const m = JSON.parse(line);
  const id = `urn:${m.action}${suffix[m.message]}`;
  seen[`${m.message} ${m.action}`] = (seen[`${m.message} ${m.action}`] || 0) + 1;
  try {
    v.validate(id, m.payload);
    ok++;
  } catch (e) {
    if (bad.length < 20) bad.push(`${id}: ${e.message} in ${JSON.stringify(m.payload).slice(0, 300)}`);
    else bad.push('');
  }
}
console.log(JSON.stringify({ valid: ok, invalid: bad.length, errors: bad.filter((x) => x), seen }));
process.exit(bad.length || ok === 0 ? 1 : 0);
