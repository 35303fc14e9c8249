// churn.js: many distinct charge-point identities connect to the gateway and close again, in
// waves, as real WebSocket clients (npm ws). Used by tests/integration/test_identity_churn.sh.
//
//   node churn.js <ws-base-url> <identity-prefix> <total> <wave> <redis-url> <pod>
// Each wave opens <wave> connections (identities <prefix>0 .. <prefix><total-1>, at most 200
// handshakes in flight; every even one sends a BootNotification and waits for Accepted), waits until the pod's registry holds all of them in Redis (SCARD
// pod:{<pod>}:conns, so every identity really had its keys written), closes them with close
// code 1000 and waits until the set is empty again. Prints one line per wave and "churn done
// <total> <seconds>"; exits 1 on any failure (a handshake refused after 3 tries, a wait of more
// than 60 s).
'use strict';
const WebSocket = require('ws');
const { execFileSync } = require('child_process');

const [base, prefix, totalArg, waveArg, redisUrl, pod] = process.argv.slice(2);
const total = Number(totalArg), wave = Number(waveArg);
const t0 = Date.now();
const fail = (what) => { console.error(`FAIL: ${what}`); process.exit(1); };

const scard = () => Number(execFileSync('redis-cli', ['-u', redisUrl, 'SCARD', `pod:{${pod}}:conns`]).toString().trim());
async function waitSet(n, what) {
  const deadline = Date.now() + 60000;
  for (;;) {
    const got = scard();
    if (got === n) return;
    if (Date.now() > deadline) fail(`${what}: pod:{${pod}}:conns holds ${got}, expected ${n}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// boot: send a BootNotification and resolve once it is answered Accepted (the registry then keeps
// the boot state in {conn:<id>}:meta after the close: a key that must expire too)
function open(id, boot) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base}/ocpp/${id}`, ['ocpp1.6'], { handshakeTimeout: 20000 });
    ws.on('open', () => {
      if (!boot) return resolve(ws);
      ws.send(JSON.stringify([2, 'b1', 'BootNotification', { chargePointVendor: 'OCPPGW', chargePointModel: 'Churn' }]));
    });
    ws.on('message', (data) => {
      const m = JSON.parse(data);
      if (m[0] === 3 && m[1] === 'b1' && m[2].status === 'Accepted') resolve(ws);
      else if (m[1] === 'b1') reject(new Error(`BootNotification answered ${data}`));
    });
    ws.on('unexpected-response', (req, res) => { reject(new Error(`HTTP ${res.statusCode}`)); ws.terminate(); });
    ws.on('error', (e) => reject(e));
  });
}
async function openRetry(id) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await open(id, Number(id.slice(prefix.length)) % 2 === 0);
    } catch (e) {
      if (attempt >= 3) fail(`${id}: ${e.message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
function close(ws) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { ws.terminate(); resolve(); }, 10000);
    ws.on('close', () => { clearTimeout(timer); resolve(); });
    ws.on('error', () => {});
    ws.close(1000);
  });
}

(async () => {
  for (let first = 0; first < total; first += wave) {
    const w0 = Date.now();
    const ids = [];
    for (let i = first; i < Math.min(first + wave, total); i++) ids.push(`${prefix}${i}`);
    const socks = [];
    let next = 0;
    async function worker() {
      while (next < ids.length) socks.push(await openRetry(ids[next++]));
    }
    await Promise.all(Array.from({ length: 200 }, worker));
    await waitSet(ids.length, `wave at ${first} registered`);
    const opened = Date.now();
    await Promise.all(socks.map(close));
    await waitSet(0, `wave at ${first} released`);
    console.log(`wave ${first}..${first + ids.length - 1}: ${ids.length} open and registered in ` +
      `${opened - w0} ms, closed and released in ${Date.now() - opened} ms`);
  }
  console.log(`churn done ${total} ${((Date.now() - t0) / 1000).toFixed(1)}`);
  process.exit(0);
})().catch((e) => fail(e.stack || e));
