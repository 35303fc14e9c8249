// tls_station.js: one charge point over ws or wss with the credentials of OCPP security
// profiles 1-3, for tests/integration/test_edge_tls.sh and bench/bench_edge_tls.sh.
//
//   node tls_station.js URL [options]
//     --user U --pass P    Basic credentials (profiles 1, 2)
//     --cert F --key F     client certificate and key (profile 3)
//     --ca F               CA the server's certificate must chain to (wss; always verified)
//     --proto P            subprotocol (default ocpp1.6)
//     --hold S             once open: BootNotification, then a Heartbeat every 250 ms for S
//                          seconds; answers every CALL from the gateway with an empty result
//     --timeout S          give up after S seconds (default 10)
//     --src A              connect from local address A (a 127.0.0.0/8 address per scenario)
// Prints one JSON line and exits 0 (whatever the outcome; the test judges it):
//   {"result":"open", ...}                       the upgrade succeeded (closed at once unless
//                                                --hold; then "boot", "heartbeats", "answers",
//                                                "calls" (actions received) and "closed": the
//                                                close code if the gateway closed it, else null)
//   {"result":"refused","status":401,"www":"..."} the upgrade was answered with an HTTP status
//   {"result":"tls","error":"..."}                TLS failed (an alert, a version or cipher)
//   {"result":"error","error":"..."}              anything else
'use strict';
const fs = require('fs');
const WebSocket = require('ws');

const args = process.argv.slice(2);
const url = args.shift();
const opt = {};
while (args.length) {
  const k = args.shift();
  if (!k.startsWith('--')) { console.error(`unexpected ${k}`); process.exit(2); }
  opt[k.slice(2)] = args.shift();
}
if (!url) {
  console.error('usage: node tls_station.js URL [--user U --pass P] [--cert F --key F] [--ca F] ' +
                '[--proto P] [--hold S] [--timeout S] [--src A]');
  process.exit(2);
}
const hold = Number(opt.hold || 0);
const proto = opt.proto || 'ocpp1.6';
const wsOpts = { handshakeTimeout: 5000, headers: {} };
if (opt.user !== undefined)
  wsOpts.headers.Authorization = 'Basic ' + Buffer.from(`${opt.user}:${opt.pass || ''}`).toString('base64');
if (opt.ca) { wsOpts.ca = fs.readFileSync(opt.ca); wsOpts.rejectUnauthorized = true; }
if (opt.src) wsOpts.localAddress = opt.src;
if (opt.cert) { wsOpts.cert = fs.readFileSync(opt.cert); wsOpts.key = fs.readFileSync(opt.key); }

let done = false;
const finish = (o) => {
  if (done) return;
  done = true;
  console.log(JSON.stringify(o));
  process.exit(0);
};
setTimeout(() => finish({ result: 'error', error: 'timeout' }), Number(opt.timeout || 10) * 1000 + hold * 1000);

const ws = new WebSocket(url, [proto], wsOpts);
const state = { result: 'open', boot: false, heartbeats: 0, answers: 0, calls: [], closed: null };
ws.on('unexpected-response', (req, res) => {
  let body = '';
  res.on('data', (d) => { body += d; });
  res.on('end', () => finish({
    result: 'refused', status: res.statusCode, www: res.headers['www-authenticate'] || null,
    retry: res.headers['retry-after'] || null, body: body.trim(),
  }));
});
ws.on('error', (err) => {
  const m = `${err.code || ''} ${err.message}`.trim();
  const tls = /SSL|TLS|alert|certificate|ECONNRESET|socket hang up|EPROTO/i.test(m);
  if (!done && state.heartbeats === 0) finish({ result: tls ? 'tls' : 'error', error: m });
});
ws.on('close', (code) => {
  state.closed = code;
  if (hold) finish(state);
});
ws.on('message', (data) => {
  const msg = JSON.parse(data.toString());
  if (msg[0] === 2) { // a CALL from the gateway (a command): answer it
    state.calls.push(msg[2]);
    ws.send(JSON.stringify([3, msg[1], msg[2] === 'ClearCache' ? { status: 'Accepted' } : {}]));
  } else if (msg[0] === 3 && msg[1] === 'boot') {
    state.boot = true;
  } else if (msg[0] === 3) {
    state.answers++;
  }
});
ws.on('open', () => {
  if (!hold) { ws.close(1000, 'done'); return finish({ result: 'open' }); }
  const boot = proto === 'ocpp1.6'
    ? { chargePointVendor: 'OCPPGW', chargePointModel: 'TLS' }
    : { reason: 'PowerUp', chargingStation: { vendorName: 'OCPPGW', model: 'TLS' } };
  ws.send(JSON.stringify([2, 'boot', 'BootNotification', boot]));
  const timer = setInterval(() => {
    if (ws.readyState !== WebSocket.OPEN) return;
    state.heartbeats++;
    ws.send(JSON.stringify([2, `hb${state.heartbeats}`, 'Heartbeat', {}]));
  }, 250);
  setTimeout(() => {
    clearInterval(timer);
    if (ws.readyState === WebSocket.OPEN) {
      setTimeout(() => finish(state), 500); // the last answers
    } else {
      finish(state);
    }
  }, hold * 1000);
});
