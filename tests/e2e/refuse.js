// refuse.js: an upgrade the edge must refuse, and the HTTP status it must refuse it with.
//
//   node refuse.js <url> <subprotocol or -> <expected status>
'use strict';
const WebSocket = require('ws');
const [url, sub, expected] = process.argv.slice(2);
const ws = new WebSocket(url, sub === '-' ? [] : [sub]);
const timer = setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 5000);
ws.on('unexpected-response', (req, res) => {
  clearTimeout(timer);
  if (String(res.statusCode) === expected) {
    console.log(`ok: ${url} [${sub}] refused with ${res.statusCode}`);
    process.exit(0);
  }
  console.error(`FAIL: ${url} [${sub}] refused with ${res.statusCode}, expected ${expected}`);
  process.exit(1);
});
ws.on('open', () => { console.error(`FAIL: ${url} [${sub}] was accepted`); process.exit(1); });
ws.on('error', (err) => { console.error(`FAIL: ${url}: ${err.message}`); process.exit(1); });
