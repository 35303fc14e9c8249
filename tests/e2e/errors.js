// errors.js: the gateway's OCPP error answers, as a raw WebSocket client (npm ws) sees them.
//
//   node errors.js <ws-base-url> <identity> <ocpp1.6|ocpp2.0.1>
// Checks, for the version: 2.0.1 boot gating (SecurityError before BootNotification), the
// error code spelled as the version spells it for a wrong type, a missing field, an unknown
// field, a bad enum value, an unknown action, a broken RPC frame and an unknown message type;
// no answer to a CALLRESULT/CALLERROR nobody asked for; and the connection stays usable.
'use strict';
const WebSocket = require('ws');

const [base, identity, protocol] = process.argv.slice(2);
const v16 = protocol === 'ocpp1.6';
const timer = setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 15000);
const ws = new WebSocket(`${base}/ocpp/${identity}`, [protocol]);
const inbox = [];
let waiter = null;

function check(cond, what) {
  if (!cond) { console.error(`FAIL: ${what}`); process.exit(1); }
  console.log(`ok: ${what}`);
}
ws.on('message', (d) => { inbox.push(JSON.parse(d.toString())); if (waiter) waiter(); });
ws.on('error', (e) => { console.error(`FAIL: ${e.message}`); process.exit(1); });

function next(ms) {
  return new Promise((resolve) => {
    if (inbox.length) return resolve(inbox.shift());
    const t = setTimeout(() => { waiter = null; resolve(null); }, ms);
    waiter = () => { clearTimeout(t); waiter = null; resolve(inbox.shift()); };
  });
}
async function send(frame, ms = 3000) {
  ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  return next(ms);
}
async function expectError(frame, code, what) {
  const r = await send(frame);
  check(r && r[0] === 4 && r[2] === code, `${what}: ${r ? JSON.stringify(r).slice(0, 140) : 'no answer'}`);
}

const E = {
  format: v16 ? 'FormationViolation' : 'FormatViolation',
  occurrence: v16 ? 'OccurenceConstraintViolation' : 'OccurrenceConstraintViolation',
  rpc: v16 ? 'FormationViolation' : 'RpcFrameworkError',
  msgtype: v16 ? 'FormationViolation' : 'MessageTypeNotSupported',
};

ws.on('open', async () => {
  const now = new Date().toISOString();
  const boot = v16 ? { chargePointVendor: 'V', chargePointModel: 'M' }
    : { reason: 'PowerUp', chargingStation: { vendorName: 'V', model: 'M' } };
  if (!v16) await expectError([2, 'g1', 'Heartbeat', {}], 'SecurityError', 'Heartbeat before boot refused (gating)');
  let r = await send([2, 'b1', 'BootNotification', boot]);
  check(r && r[0] === 3 && r[1] === 'b1' && r[2].status === 'Accepted', 'BootNotification accepted');
  if (v16) {
    await expectError([2, 'e1', 'StatusNotification', { connectorId: '1', errorCode: 'NoError', status: 'Available' }],
      'TypeConstraintViolation', 'wrong type');
    await expectError([2, 'e2', 'StatusNotification', { connectorId: 1, status: 'Available' }], E.occurrence, 'missing required');
    await expectError([2, 'e3', 'Heartbeat', { surprise: 1 }], E.format, 'unknown field');
    await expectError([2, 'e4', 'StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Sleepy' }],
      'PropertyConstraintViolation', 'enum value');
    await expectError([2, 'e5', 'Authorize', { idTag: 'x'.repeat(21) }], 'PropertyConstraintViolation', 'too long');
    await expectError([2, 'e6', 'StartTransaction', { connectorId: 1, idTag: 'T', meterStart: 0, timestamp: 'yesterday' }],
      'PropertyConstraintViolation', 'bad date-time');
  } else {
    await expectError([2, 'e1', 'StatusNotification', { timestamp: now, connectorStatus: 'Available', evseId: '1', connectorId: 1 }],
      'TypeConstraintViolation', 'wrong type');
    await expectError([2, 'e2', 'StatusNotification', { timestamp: now, connectorStatus: 'Available', evseId: 1 }], E.occurrence, 'missing required');
    await expectError([2, 'e3', 'Heartbeat', { surprise: 1 }], E.format, 'unknown field');
    await expectError([2, 'e4', 'StatusNotification', { timestamp: now, connectorStatus: 'Sleepy', evseId: 1, connectorId: 1 }],
      'PropertyConstraintViolation', 'enum value');
    await expectError([2, 'e5', 'Authorize', { idToken: { idToken: 'x'.repeat(37), type: 'Central' } }], 'PropertyConstraintViolation', 'too long');
    await expectError([6, 'e6', 'NotifyPeriodicEventStream', {}], E.msgtype, 'SEND outside OCPP 2.1');
  }
  await expectError([2, 'e7', 'FlyToTheMoon', {}], 'NotImplemented', 'unknown action');
  await expectError([2, 'e8', 'Reset', v16 ? { type: 'Hard' } : { type: 'Immediate' }], 'NotImplemented', 'CSMS-only action from a charge point');
  await expectError([2, 'e9', 'Heartbeat'], E.rpc, 'CALL with three elements');
  await expectError([2, 'e10', 'Heartbeat', []], E.format, 'payload not an object');
  await expectError([9, 'e11', {}], E.msgtype, 'unknown message type');
  r = await send([3, 'nobody-asked', {}], 500);
  check(r === null, 'no answer to an unexpected CALLRESULT');
  r = await send([4, 'nobody-asked', 'GenericError', '', {}], 500);
  check(r === null, 'no answer to an unexpected CALLERROR');
  r = await send([3, 'x', 'not an object'], 500);
  check(r === null, 'no answer to a malformed CALLRESULT');
  r = await send('this is not json', 500);
  check(r === null, 'not JSON: no id to answer to, counted only');
  r = await send([2, 'h1', 'Heartbeat', {}]);
  check(r && r[0] === 3 && r[1] === 'h1', 'connection still usable: Heartbeat answered');
  ws.close();
  clearTimeout(timer);
  process.exit(0);
});
