// tls_hold.js: holds N idle WebSocket connections over ws or wss (optionally with a client
// certificate), for bench/bench_edge_tls.sh's memory figure (bench/README.md).
//
//   node tls_hold.js URL_BASE N [--ca F] [--cert F --key F] [--tls12 1] [--inflight C]
// Opens URL_BASE/B0 .. URL_BASE/B<N-1> with at most C (default 50) handshakes in flight,
// prints "open N failed F seconds T" once all are settled, then "ready", and holds them (pings
// are answered by the ws library) until stdin ends; then closes everything and exits.
'use strict';
const path = require('path');
const fs = require('fs');
const WebSocket = require(path.join(__dirname, '..', 'tests', 'e2e', 'node_modules', 'ws'));

const [base, nArg, ...rest] = process.argv.slice(2);
const n = Number(nArg);
const opt = {};
while (rest.length) opt[rest.shift().slice(2)] = rest.shift();
if (!base || !n) {
  console.error('usage: node tls_hold.js URL_BASE N [--ca F] [--cert F --key F] [--tls12 1] [--inflight C]');
  process.exit(2);
}
const tls = {};
if (opt.ca) tls.ca = fs.readFileSync(opt.ca);
if (opt.tls12) tls.maxVersion = 'TLSv1.2';
if (opt.cert) { tls.cert = fs.readFileSync(opt.cert); tls.key = fs.readFileSync(opt.key); }
const inflight = Number(opt.inflight || 50);
const socks = [];
let next = 0, open = 0, failed = 0, pending = 0;
const t0 = Date.now();

function settle() {
  pending--;
  if (next < n) start();
  else if (pending === 0) {
    console.log(`open ${open} failed ${failed} seconds ${((Date.now() - t0) / 1000).toFixed(2)}`);
    console.log('ready');
  }
}
function start() {
  const i = next++;
  pending++;
  const ws = new WebSocket(`${base}/B${i}`, ['ocpp1.6'], { ...tls, handshakeTimeout: 20000 });
  let done = false;
  ws.on('open', () => { if (!done) { done = true; open++; socks.push(ws); settle(); } });
  ws.on('error', () => { if (!done) { done = true; failed++; settle(); } });
  ws.on('close', () => { if (!done) { done = true; failed++; settle(); } });
}
for (let k = 0; k < Math.min(inflight, n); k++) start();
process.stdin.resume();
process.stdin.on('end', () => {
  for (const ws of socks) ws.terminate();
  process.exit(0);
});
