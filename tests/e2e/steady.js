// steady.js: a charge point that stays connected and keeps talking, for restart tests.
//
//   node steady.js <ws-base-url> <identity> <subprotocol> <duration-ms> <period-ms>
// Connects to <base>/ocpp/<identity>, boots once, then sends a CALL every period-ms (Heartbeat,
// StatusNotification and, in 2.0.1, TransactionEvent, which the gateway answers only once its
// event is in Kafka), and answers every CALL of the gateway (a downlink command) with
// {"status":"Accepted"}. If the gateway closes the connection it reconnects after 500 ms without
// booting again, as a station does after a blip. After duration-ms it closes with 1000.
// One line per fact on stdout, times in ms since start:
//   booted                        the BootNotification was accepted
//   S <t> <id> <action>           a CALL sent
//   A <t> <id> <3|4> [code]       its answer (CALLRESULT, or CALLERROR and its code)
//   C <t> <id> <action>           a CALL of the gateway, answered Accepted
//   X <t> <code> <reason>         the connection closed (pending CALLs: L <id>)
//   R <t>                         connected again
// Exit 0 when it ran its duration, 1 on a client error.
'use strict';
const WebSocket = require('ws');

const [base, identity, subprotocol, durationArg, periodArg] = process.argv.slice(2);
const duration = Number(durationArg || 20000);
const period = Number(periodArg || 500);
const v16 = subprotocol === 'ocpp1.6';
const start = Date.now();
const t = () => Date.now() - start;
let seq = 0;
let ws = null;
let booted = false;
let done = false;
const pending = new Map(); // id -> action

function payload(action, n) {
  const now = new Date().toISOString();
  if (action === 'BootNotification')
    return v16 ? { chargePointVendor: 'OCPPGW', chargePointModel: 'Steady' }
               : { reason: 'PowerUp', chargingStation: { vendorName: 'OCPPGW', model: 'Steady' } };
  if (action === 'StatusNotification')
    return v16 ? { connectorId: 1, errorCode: 'NoError', status: 'Available' }
               : { timestamp: now, connectorStatus: 'Available', evseId: 1, connectorId: 1 };
  if (action === 'TransactionEvent')
    return { eventType: 'Updated', timestamp: now, triggerReason: 'MeterValuePeriodic', seqNo: n,
             transactionInfo: { transactionId: `${identity}-tx` } };
  return {};
}

function call(action) {
  const id = `s${++seq}`;
  pending.set(id, action);
  console.log(`S ${t()} ${id} ${action}`);
  ws.send(JSON.stringify([2, id, action, payload(action, seq)]));
}

function open() {
  ws = new WebSocket(`${base}/ocpp/${identity}`, [subprotocol]);
  ws.on('open', () => {
    if (booted) console.log(`R ${t()}`);
    else call('BootNotification');
  });
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg[0] === 2) { // a command: accepted
      console.log(`C ${t()} ${msg[1]} ${msg[2]}`);
      ws.send(JSON.stringify([3, msg[1], { status: 'Accepted' }]));
      return;
    }
    const action = pending.get(msg[1]);
    if (!action) return;
    pending.delete(msg[1]);
    console.log(`A ${t()} ${msg[1]} ${msg[0]}${msg[0] === 4 ? ` ${msg[2]}` : ''}`);
    if (action === 'BootNotification' && msg[0] === 3 && msg[2].status === 'Accepted' && !booted) {
      booted = true;
      console.log('booted');
    }
  });
  ws.on('close', (code, reason) => {
    console.log(`X ${t()} ${code} ${reason.toString().replace(/ /g, '_') || '-'}`);
    for (const id of pending.keys()) console.log(`L ${id}`);
    pending.clear();
    if (!done) setTimeout(open, 500);
  });
  ws.on('error', (err) => console.log(`E ${t()} ${err.message.replace(/ /g, '_')}`));
}

const actions = v16 ? ['Heartbeat', 'StatusNotification']
                    : ['Heartbeat', 'StatusNotification', 'TransactionEvent'];
let k = 0;
const tick = setInterval(() => {
  // one outstanding CALL at a time (OCPP-J): skip a beat while one waits
  if (booted && ws && ws.readyState === WebSocket.OPEN && pending.size === 0)
    call(actions[k++ % actions.length]);
}, period);

setTimeout(() => {
  done = true;
  clearInterval(tick);
  const end = () => process.exit(0);
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.once('close', end);
    ws.close(1000, 'done');
    setTimeout(end, 2000);
  } else {
    end();
  }
}, duration);
open();
