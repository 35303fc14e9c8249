// skeleton.js: the walking-skeleton scenario from a real WebSocket client (npm `ws`).
//
//   node skeleton.js <ws-base-url> <identity> <subprotocol> [hold-ms]
// Connects to <base>/ocpp/<identity>, sends a BootNotification of the subprotocol's version,
// and checks the CallResult: Accepted, a parsable currentTime, an integer interval. Then
// checks that the gateway answers an unknown action with a CallError NotImplemented and stays
// usable (a Heartbeat still works). With hold-ms it keeps the connection open that long
// before closing (so a test can look at the registry meanwhile). Exit 0 on success.
'use strict';
const WebSocket = require('ws');

const [base, identity, subprotocol, holdArg] = process.argv.slice(2);
const holdMs = Number(holdArg || 0);
if (!base || !identity || !subprotocol) {
  console.error('usage: node skeleton.js <ws-base-url> <identity> <subprotocol>');
  process.exit(2);
}
const boot = subprotocol === 'ocpp1.6'
  ? { chargePointVendor: 'OCPPGW', chargePointModel: 'Skeleton' }
  : { reason: 'PowerUp', chargingStation: { vendorName: 'OCPPGW', model: 'Skeleton' } };

const timer = setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 10000 + holdMs);
const ws = new WebSocket(`${base}/ocpp/${identity}`, [subprotocol]);
const pending = new Map();
let seq = 0;

function call(action, payload) {
  const id = `m${++seq}`;
  ws.send(JSON.stringify([2, id, action, payload]));
  return new Promise((resolve) => pending.set(id, resolve));
}

function check(cond, what) {
  if (!cond) { console.error(`FAIL: ${what}`); process.exit(1); }
  console.log(`ok: ${what}`);
}

ws.on('message', (data) => {
  const msg = JSON.parse(data.toString());
  const resolve = pending.get(msg[1]);
  if (resolve) { pending.delete(msg[1]); resolve(msg); }
});
ws.on('error', (err) => { console.error(`FAIL: ${err.message}`); process.exit(1); });
ws.on('open', async () => {
  check(ws.protocol === subprotocol, `subprotocol ${ws.protocol} negotiated`);
  const r = await call('BootNotification', boot);
  check(r[0] === 3, 'BootNotification answered with a CallResult');
  check(r[2].status === 'Accepted', 'status Accepted');
  check(!Number.isNaN(Date.parse(r[2].currentTime)), `currentTime ${r[2].currentTime}`);
  check(Number.isInteger(r[2].interval) && r[2].interval > 0, `interval ${r[2].interval}`);
  const e = await call('NoSuchAction', {});
  check(e[0] === 4 && e[2] === 'NotImplemented', 'unknown action: CallError NotImplemented');
  const h = await call('Heartbeat', {});
  check(h[0] === 3 && typeof h[2].currentTime === 'string', 'connection still usable: Heartbeat');
  console.log('holding');
  setTimeout(() => {
    clearTimeout(timer);
    ws.close(1000, 'done');
    ws.on('close', () => process.exit(0));
  }, holdMs);
});
