// persist.js: persist-before-ack through the real pipeline with a stalled kafka-bridge.
//
//   node persist.js <ws-base-url> <identity> <kafka-bridge-pid>
// Boots as OCPP 1.6, stops the bridge (SIGSTOP), sends StartTransaction and checks that no
// answer comes while the event cannot be confirmed by Kafka; resumes the bridge (SIGCONT)
// and checks that the answer then arrives, with a transactionId. A Heartbeat (not a
// transaction message) sent while the bridge is stopped is answered at once. Then, with the
// bridge stopped again, StopTransaction is not answered for a while and gets InternalError
// once the pod's persist_timeout_ms (set by the test to a few seconds) has passed; it is never
// acknowledged without persistence.
'use strict';
const WebSocket = require('ws');

const [base, identity, bridgePid] = process.argv.slice(2);
const pid = Number(bridgePid);
const timer = setTimeout(() => { process.kill(pid, 'SIGCONT'); console.error('FAIL: timed out'); process.exit(1); }, 30000);
const ws = new WebSocket(`${base}/ocpp/${identity}`, ['ocpp1.6']);
const inbox = [];
let waiter = null;
function check(cond, what) {
  if (!cond) { process.kill(pid, 'SIGCONT'); console.error(`FAIL: ${what}`); process.exit(1); }
  console.log(`ok: ${what}`);
}
ws.on('message', (d) => { inbox.push(JSON.parse(d.toString())); if (waiter) waiter(); });
function next(ms) {
  return new Promise((resolve) => {
    if (inbox.length) return resolve(inbox.shift());
    const t = setTimeout(() => { waiter = null; resolve(null); }, ms);
    waiter = () => { clearTimeout(t); waiter = null; resolve(inbox.shift()); };
  });
}
ws.on('open', async () => {
  ws.send(JSON.stringify([2, 'b1', 'BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' }]));
  let r = await next(5000);
  check(r && r[1] === 'b1' && r[2].status === 'Accepted', 'booted');
  process.kill(pid, 'SIGSTOP');
  console.log('kafka-bridge stopped');
  ws.send(JSON.stringify([2, 'h1', 'Heartbeat', {}]));
  r = await next(3000);
  check(r && r[1] === 'h1', 'Heartbeat answered while the bridge is stopped (no persistence needed)');
  const start = Date.now();
  ws.send(JSON.stringify([2, 's1', 'StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 0, timestamp: new Date().toISOString() }]));
  r = await next(3000);
  check(r === null, 'StartTransaction not answered while its event cannot be persisted (3 s)');
  process.kill(pid, 'SIGCONT');
  console.log('kafka-bridge resumed');
  r = await next(15000);
  check(r && r[0] === 3 && r[1] === 's1' && Number.isInteger(r[2].transactionId),
    `StartTransaction answered after Kafka confirmed, ${Date.now() - start} ms after sending: ${JSON.stringify(r)}`);
  process.kill(pid, 'SIGSTOP');
  console.log('kafka-bridge stopped again');
  const stopAt = Date.now();
  ws.send(JSON.stringify([2, 's2', 'StopTransaction', { transactionId: r[2].transactionId, meterStop: 10, timestamp: new Date().toISOString() }]));
  r = await next(2000);
  check(r === null, 'StopTransaction not answered while its event cannot be persisted (2 s)');
  r = await next(15000);
  process.kill(pid, 'SIGCONT');
  check(r && r[0] === 4 && r[1] === 's2' && r[2] === 'InternalError',
    `StopTransaction refused with InternalError after persist_timeout_ms, ${Date.now() - stopAt} ms: ${JSON.stringify(r)}`);
  ws.close();
  clearTimeout(timer);
  process.exit(0);
});
