// hold.js: a charge point that boots and then stays connected, to see the gateway close it.
//
//   node hold.js <ws-base-url> <identity> <subprotocol> <hold-ms>
// Connects to <base>/ocpp/<identity>, sends a BootNotification, prints "holding", then waits.
// If the gateway closes the connection it prints "closed <code> <reason>" and exits 0; if
// hold-ms passes first it closes normally, prints "held" and exits 3.
'use strict';
const WebSocket = require('ws');

const [base, identity, subprotocol, holdArg] = process.argv.slice(2);
const holdMs = Number(holdArg || 0);
if (!base || !identity || !subprotocol || !holdMs) {
  console.error('usage: node hold.js <ws-base-url> <identity> <subprotocol> <hold-ms>');
  process.exit(2);
}
const boot = subprotocol === 'ocpp1.6'
  ? { chargePointVendor: 'OCPPGW', chargePointModel: 'Hold' }
  : { reason: 'PowerUp', chargingStation: { vendorName: 'OCPPGW', model: 'Hold' } };

let closing = false;
const ws = new WebSocket(`${base}/ocpp/${identity}`, [subprotocol]);
ws.on('error', (err) => { console.error(`FAIL: ${err.message}`); process.exit(1); });
ws.on('close', (code, reason) => {
  if (closing) { console.log('held'); process.exit(3); }
  console.log(`closed ${code} ${reason.toString()}`);
  process.exit(0);
});
ws.on('message', (data) => {
  const msg = JSON.parse(data.toString());
  if (msg[1] === 'boot' && msg[0] === 3) console.log('holding');
});
ws.on('open', () => {
  ws.send(JSON.stringify([2, 'boot', 'BootNotification', boot]));
  setTimeout(() => { closing = true; ws.close(1000, 'done'); }, holdMs);
});
