// cloudevents_sdk.js: reads the records the real pipeline produced (kcat -J: key, headers,
// payload of each record) with the npm `cloudevents` SDK's Kafka binding, as a backend would
// (issue 14 item 6; docs/unified-model.md "Events", docs/commands.md "The result record").
//
//   node cloudevents_sdk.js <schema-dir> <pod> <events.jsonl> <results.jsonl> <dlq.jsonl> <expect.json>
//
// Events (ocpp-events-up): Kafka.isEvent true, Kafka.toEvent gives a structured-mode CloudEvent
// whose validate() is true, with specversion 1.0, a 32-hex id equal to the ce_id header, type
// equal to ce_type, source /ocppgw/<pod that produced it>, subject = key, datacontenttype
// application/json, dataschema = the $id of proto/unified/event-<type>.json, data deep-equal to
// the record's data; the record value validates against cloudevent.json (ajv) and its data
// against the schema dataschema names. Every type of cloudevent.json's enum must appear.
// Results (command-results) and DLQ copies (commands-dlq) are plain JSON documents with
// content-type application/json and the binding's binary-mode ce_* headers (docs/commands.md):
// the SDK reads them as CloudEvents of type command.result / command.dead_lettered whose id is
// the SHA-256 of "<type>\n<command_id>" (32 hex), whose data is the record's value, and their
// values validate against result.json / are the record as written. expect.json: {results: {command_id: status}, dlq: {command_id: value},
// registry: {subject, id}} (the registry's own device.disconnected). Exit 1 on any failure.
'use strict';
const { Kafka, CloudEvent } = require('cloudevents');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');
const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const [dir, pod, evFile, resFile, dlqFile, expectFile] = process.argv.slice(2);
const expect = JSON.parse(fs.readFileSync(expectFile, 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.json')))
  ajv.addSchema(JSON.parse(fs.readFileSync(path.join(dir, f))));
const BASE = 'https://ocppgw.example/unified/';
const envelope = ajv.getSchema(BASE + 'cloudevent.json');
const resultSchema = ajv.getSchema(BASE + 'result.json');
const allTypes = JSON.parse(fs.readFileSync(path.join(dir, 'cloudevent.json'))).properties.type.enum;
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

// kcat -J: {"key": "...", "payload": "...", "headers": ["k", "v", ...]} per line
function records(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => {
    const r = JSON.parse(l);
    const headers = {};
    for (let i = 0; r.headers && i < r.headers.length; i += 2) headers[r.headers[i]] = r.headers[i + 1];
    return { headers, key: r.key, value: r.payload };
  });
}

let failures = 0;
function check(what, fn) {
  try {
    fn();
  } catch (e) {
    failures++;
    console.log(`FAIL: ${what}: ${e.message}`);
  }
}

// events
const seen = {};
for (const msg of records(evFile)) {
  const raw = JSON.parse(msg.value);
  check(`event ${raw.type} ${raw.id} (key ${msg.key})`, () => {
    assert.strictEqual(msg.headers['content-type'], 'application/cloudevents+json; charset=UTF-8');
    assert.ok(Kafka.isEvent(msg), 'the SDK does not see a CloudEvent');
    const ce = Kafka.toEvent(msg);
    assert.ok(ce instanceof CloudEvent, 'not one CloudEvent');
    assert.strictEqual(ce.validate(), true);
    assert.strictEqual(ce.specversion, '1.0');
    assert.match(ce.id, /^[0-9a-f]{32}$/);
    assert.strictEqual(ce.id, msg.headers.ce_id, 'id differs from the ce_id header');
    assert.strictEqual(ce.type, msg.headers.ce_type, 'type differs from the ce_type header');
    assert.ok(allTypes.includes(ce.type), `type ${ce.type} is not published`);
    assert.strictEqual(ce.subject, msg.key, 'subject is not the record key');
    assert.match(ce.source, /^\/ocppgw\/[^/]+$/);
    assert.strictEqual(ce.source, `/ocppgw/${pod}`);
    assert.strictEqual(ce.datacontenttype, 'application/json');
    assert.strictEqual(ce.dataschema, `${BASE}event-${ce.type}.json`);
    assert.strictEqual(Date.parse(ce.time), Date.parse(raw.time), 'time');
    assert.deepStrictEqual(ce.data, raw.data, 'data differs from the record');
    assert.match(msg.headers.traceparent || '', TRACEPARENT, 'no valid traceparent header');
    // the published contract: the envelope, and data against the schema dataschema names
    assert.ok(envelope(raw), `breaks cloudevent.json: ${JSON.stringify(envelope.errors)}`);
    const dataSchema = ajv.getSchema(ce.dataschema);
    assert.ok(dataSchema, `dataschema ${ce.dataschema} is not a published schema`);
    assert.ok(dataSchema(ce.data), `data breaks ${ce.dataschema}: ${JSON.stringify(dataSchema.errors)}`);
    seen[ce.type] = (seen[ce.type] || 0) + 1;
  });
}
const missing = allTypes.filter((t) => !seen[t]);
check('every published event type produced', () => assert.deepStrictEqual(missing, []));
console.log(`events: ${Object.values(seen).reduce((a, b) => a + b, 0)} read by the SDK, ` +
  `${Object.keys(seen).length}/${allTypes.length} types: ${JSON.stringify(seen)}`);

// the registry's device.disconnected (its reconciliation), through the same binding
check(`the registry's device.disconnected of ${expect.registry.subject}`, () => {
  const mine = records(evFile).filter((m) => m.key === expect.registry.subject).map((m) => Kafka.toEvent(m));
  assert.strictEqual(mine.length, 1, `${mine.length} events`);
  assert.strictEqual(mine[0].type, 'device.disconnected');
  assert.strictEqual(mine[0].id, expect.registry.id, 'id is not the digest of its natural key');
  assert.match(mine[0].data.reason, /reconciliation/);
});

// results and DLQ copies: plain JSON values, CloudEvents in binary mode
function binaryCloudEvent(msg, type, cid, schema) {
  assert.strictEqual(msg.headers['content-type'], 'application/json');
  assert.ok(Kafka.isEvent(msg), 'the SDK does not see a CloudEvent');
  const ce = Kafka.toEvent(msg);
  assert.ok(ce.validate(), 'not a valid CloudEvent');
  assert.strictEqual(ce.specversion, '1.0');
  assert.strictEqual(ce.type, type);
  const id = crypto.createHash('sha256').update(`${type}\n${cid}`).digest('hex').slice(0, 32);
  assert.strictEqual(ce.id, id, 'id is not the digest of type and command id');
  assert.strictEqual(ce.source, `/ocppgw/${pod}`);
  assert.strictEqual(ce.datacontenttype, 'application/json');
  assert.strictEqual(ce.dataschema, schema);
  assert.ok(!Number.isNaN(Date.parse(ce.time)), 'no time');
  assert.deepStrictEqual(ce.data, JSON.parse(msg.value), 'data is not the record value');
  return ce;
}
const results = records(resFile);
for (const [cid, status] of Object.entries(expect.results)) {
  check(`result ${cid}`, () => {
    const mine = results.filter((m) => m.key === cid);
    assert.strictEqual(mine.length, 1, `${mine.length} results`);
    const r = JSON.parse(mine[0].value);
    const ce = binaryCloudEvent(mine[0], 'command.result', cid, BASE + 'result.json');
    if (r.cp_id) assert.strictEqual(ce.subject, r.cp_id);
    assert.ok(resultSchema(r), `breaks result.json: ${JSON.stringify(resultSchema.errors)}`);
    assert.strictEqual(r.status, status);
    assert.strictEqual(mine[0].headers.status, status, 'status header');
    assert.match(mine[0].headers.traceparent || '', TRACEPARENT, 'no valid traceparent header');
  });
}
const dlq = records(dlqFile);
for (const [cid, value] of Object.entries(expect.dlq)) {
  check(`DLQ copy ${cid}`, () => {
    const mine = dlq.filter((m) => m.key === cid);
    assert.strictEqual(mine.length, 1, `${mine.length} copies`);
    binaryCloudEvent(mine[0], 'command.dead_lettered', cid, undefined);
    assert.strictEqual(mine[0].value, value, 'not the record as written');
    assert.strictEqual(mine[0].headers.status, 'invalid');
    assert.ok(mine[0].headers.reason, 'no reason header');
  });
}
console.log(`results: ${Object.keys(expect.results).length}, DLQ copies: ${Object.keys(expect.dlq).length} read as binary-mode CloudEvents with plain JSON values`);
console.log(failures ? `cloudevents SDK: ${failures} failures` : 'cloudevents SDK: every record read as specified');
process.exit(failures ? 1 : 0);
