// v21.js: an independent OCPP 2.1 client (npm ocpp-rpc, which negotiates ocpp2.1) runs a
// session through the gateway; every gateway response is validated with ajv over the official
// 2.1 schemas (proto/ocpp/ocpp2_1.json). ocpp-rpc's strict mode is off: for 2.1 it looks up
// ids such as urn:BootNotification.req that the official file names urn:BootNotificationRequest.
//
//   node v21.js <ws-base-url> <identity> [serve-ms]
// Boot, status, heartbeat, authorize, a transaction whose Started and Ended events carry signed
// meter values of 32,768 characters (the Ended one is over 64 KiB), a NotifyPeriodicEventStream
// as SEND (type 6: no answer may come, and the next CALL is answered at once), NotifyDERAlarm,
// and the other new station messages of 2.1. With serve-ms, it then stays connected that long
// ("session calls done" printed first) and answers the gateway's commands: each request must be
// valid 2.1, each is printed ("command <action> <payload>") and answered Accepted (validated).
'use strict';
const { RPCClient } = require('ocpp-rpc');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');
const path = require('path');

const [base, identity, serveArg] = process.argv.slice(2);
const serveMs = Number(serveArg || 0);
const timer = setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 30000 + serveMs);
const ajv = new Ajv({ strict: false });
addFormats(ajv);
ajv.addSchema(require(path.join(__dirname, '../../proto/ocpp/ocpp2_1.json')));

function check(cond, what) {
  if (!cond) { console.error(`FAIL: ${what}`); process.exit(1); }
  console.log(`ok: ${what}`);
}
const now = () => new Date().toISOString();
let validated = 0;
function valid(action, kind, payload) {
  const f = ajv.getSchema(`urn:${action}${kind}`);
  if (!f) { console.error(`FAIL: no schema urn:${action}${kind}`); process.exit(1); }
  if (!f(payload)) {
    console.error(`FAIL: ${action} ${kind} invalid: ${ajv.errorsText(f.errors)}: ${JSON.stringify(payload).slice(0, 300)}`);
    process.exit(1);
  }
}
let cli;
async function call(action, payload) {
  valid(action, 'Request', payload); // our own requests must be valid 2.1 too
  const res = await cli.call(action, payload);
  valid(action, 'Response', res);
  validated++;
  return res;
}

// base64 of this length: the largest signedMeterData 2.1 allows
const signed = (n) => ({ signedMeterData: Buffer.alloc(n * 3 / 4, 7).toString('base64').slice(0, n),
  signingMethod: 'ECDSA-secp256r1-SHA256', encodingMethod: 'OCMF', publicKey: Buffer.alloc(48, 3).toString('base64') });

(async () => {
  cli = new RPCClient({ endpoint: `${base}/ocpp`, identity, protocols: ['ocpp2.1', 'ocpp2.0.1'], strictMode: false,
    reconnect: false });
  const inbound = [];
  cli.on('message', ({ message, outbound }) => { if (!outbound) inbound.push(String(message)); });
  // commands: SetDERControl (native 2.1) and Reset (the unified reset converted) answered Accepted
  for (const action of ['SetDERControl', 'Reset']) {
    cli.handle(action, ({ params }) => {
      valid(action, 'Request', params);
      console.log(`command ${action} ${JSON.stringify(params)}`);
      const res = { status: 'Accepted' };
      valid(action, 'Response', res);
      return res;
    });
  }
  await cli.connect();
  check(cli.protocol === 'ocpp2.1', `negotiated ${cli.protocol}`);

  const boot = await call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'OCPPGW', model: 'V21' } });
  check(boot.status === 'Accepted', 'BootNotification Accepted');
  await call('StatusNotification', { timestamp: now(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
  const hb = await call('Heartbeat', {});
  check(!Number.isNaN(Date.parse(hb.currentTime)), 'Heartbeat currentTime');
  const idToken = { idToken: 'TAG1', type: 'ISO14443' };
  const auth = await call('Authorize', { idToken });
  check(auth.idTokenInfo.status === 'Accepted', 'Authorize Accepted');

  const transactionInfo = { transactionId: `${identity}-tx1` };
  const reg = (wh, ctx, sig) => ({ value: wh, measurand: 'Energy.Active.Import.Register', context: ctx,
    unitOfMeasure: { unit: 'Wh' }, signedMeterValue: sig });
  const started = await call('TransactionEvent', { eventType: 'Started', timestamp: now(), triggerReason: 'Authorized',
    seqNo: 0, transactionInfo, idToken, evse: { id: 1, connectorId: 1 },
    meterValue: [{ timestamp: now(), sampledValue: [reg(0, 'Transaction.Begin', signed(32768))] }] });
  check(started.idTokenInfo.status === 'Accepted', 'TransactionEvent Started (one signed value of 32,768) answered');
  await call('TransactionEvent', { eventType: 'Updated', timestamp: now(), triggerReason: 'MeterValuePeriodic', seqNo: 1,
    transactionInfo: { ...transactionInfo, chargingState: 'Charging' },
    meterValue: [{ timestamp: now(), sampledValue: [reg(1250.5, 'Sample.Periodic')] }] });
  const ended = { eventType: 'Ended', timestamp: now(), triggerReason: 'StopAuthorized', seqNo: 2,
    transactionInfo: { ...transactionInfo, stoppedReason: 'Local' }, idToken,
    meterValue: [{ timestamp: now(), sampledValue: [reg(0, 'Transaction.Begin', signed(32768)),
                                                    reg(4200, 'Transaction.End', signed(32768))] }] };
  const size = JSON.stringify([2, 'x'.repeat(36), 'TransactionEvent', ended]).length;
  check(size > 65536, `TransactionEvent Ended with two signed values is ${size} bytes (> 64 KiB)`);
  await call('TransactionEvent', ended);
  console.log('ok: TransactionEvent Ended answered');

  // SEND: never answered; the CALL right after it is answered (the SEND took no slot)
  const sendId = 'send-1';
  const stream = { id: 1, pending: 0, basetime: now(), data: [{ t: 0, v: '230.1' }, { t: 1.5, v: '230.4' }] };
  valid('NotifyPeriodicEventStream', '', stream);
  const open = await call('OpenPeriodicEventStream', { constantStreamData: { id: 1, variableMonitoringId: 1,
    params: { interval: 1, values: 2 } } });
  check(open.status === 'Accepted', 'OpenPeriodicEventStream Accepted');
  cli._ws.send(JSON.stringify([6, sendId, 'NotifyPeriodicEventStream', stream]));
  await call('Heartbeat', {});
  await new Promise((r) => setTimeout(r, 1500));
  check(!inbound.some((m) => m.includes(`"${sendId}"`)), 'SEND NotifyPeriodicEventStream not answered');
  await call('ClosePeriodicEventStream', { id: 1 });

  await call('NotifyDERAlarm', { controlType: 'FreqDroop', gridEventFault: 'OverFrequency', timestamp: now() });
  console.log('ok: NotifyDERAlarm answered');
  await call('NotifyDERStartStop', { controlId: 'c1', started: true, timestamp: now() });
  await call('ReportDERControl', { requestId: 1 });
  await call('BatterySwap', { eventType: 'BatteryIn', requestId: 1, idToken,
    batteryData: [{ evseId: 1, serialNumber: 'B1', soC: 80, soH: 95 }] });
  await call('NotifySettlement', { pspRef: 'psp1', status: 'Settled', settlementAmount: 12.5, settlementTime: now() });
  await call('NotifyPriorityCharging', { transactionId: transactionInfo.transactionId, activated: true });
  await call('PullDynamicScheduleUpdate', { chargingProfileId: 1 });
  const vat = await call('VatNumberValidation', { vatNumber: 'NL123456789B01' });
  check(vat.vatNumber === 'NL123456789B01', 'VatNumberValidation echoes the number');
  const chain = await call('GetCertificateChainStatus', { certificateStatusRequests: [{ source: 'OCSP',
    urls: ['https://ocsp.example.com'], certificateHashData: { hashAlgorithm: 'SHA256', issuerNameHash: 'a',
      issuerKeyHash: 'b', serialNumber: '1' } }] });
  check(chain.certificateStatus.length === 1, 'GetCertificateChainStatus one status per certificate');
  await call('SecurityEventNotification', { type: 'StartupOfTheDevice', timestamp: now() });
  await call('NotifyEvent', { generatedAt: now(), seqNo: 0, eventData: [{ eventId: 1, timestamp: now(), trigger: 'Alerting',
    actualValue: '1', eventNotificationType: 'HardWiredNotification', component: { name: 'EVSE' }, variable: { name: 'Problem' } }] });
  await call('MeterValues', { evseId: 1, meterValue: [{ timestamp: now(), sampledValue: [{ value: 230.1, measurand: 'Voltage',
    unitOfMeasure: { unit: 'V' } }] }] });
  check(validated === 22, `${validated} gateway responses valid against the official 2.1 schemas`);
  if (serveMs > 0) {
    console.log('session calls done');
    await new Promise((r) => setTimeout(r, serveMs));
  }
  await cli.close();
  clearTimeout(timer);
  console.log('session done');
})().catch((e) => { console.error('FAIL:', e && (e.stack || e)); process.exit(1); });
