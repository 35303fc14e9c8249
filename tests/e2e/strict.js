// strict.js: an independent OCPP implementation (npm ocpp-rpc, strict schema mode) runs a full
// charging session through the gateway and finds every response valid.
//
//   node strict.js <ws-base-url> <identity> <ocpp1.6|ocpp2.0.1> [serve-ms]
// Boot, status, authorize, a full transaction with meter values, heartbeat and the other
// notifications of the version. In strict mode ocpp-rpc validates each CALLRESULT against the
// official response schema and rejects the call if it does not match, so any invalid gateway
// response fails here. With serve-ms it then stays connected that long and answers commands
// from the gateway: Reset -> Accepted, ClearCache -> answered too late (after 2.5 s),
// GetConfiguration / GetVariables -> never answered; it prints each command it receives.
'use strict';
const { RPCClient } = require('ocpp-rpc');

const [base, identity, protocol, serveArg] = process.argv.slice(2);
const serveMs = Number(serveArg || 0);
const timer = setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 20000 + serveMs);

function check(cond, what) {
  if (!cond) { console.error(`FAIL: ${what}`); process.exit(1); }
  console.log(`ok: ${what}`);
}
const now = () => new Date().toISOString();

async function v16(cli) {
  const boot = await cli.call('BootNotification', { chargePointVendor: 'OCPPGW', chargePointModel: 'Strict' });
  check(boot.status === 'Accepted', 'BootNotification Accepted');
  await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: now() });
  const auth = await cli.call('Authorize', { idTag: 'TAG1' });
  check(auth.idTagInfo.status === 'Accepted', 'Authorize Accepted');
  const start = await cli.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 0, timestamp: now() });
  check(Number.isInteger(start.transactionId) && start.transactionId > 0 && start.transactionId < 2 ** 31,
    `StartTransaction: transactionId ${start.transactionId}, idTag ${start.idTagInfo.status}`);
  const tx = start.transactionId;
  await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging' });
  for (const wh of [100, 250]) {
    await cli.call('MeterValues', { connectorId: 1, transactionId: tx, meterValue: [{ timestamp: now(),
      sampledValue: [{ value: String(wh), measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Sample.Periodic' },
                     { value: '7.4', measurand: 'Power.Active.Import', unit: 'kW' }] }] });
  }
  await cli.call('MeterValues', { connectorId: 0, meterValue: [{ timestamp: now(), sampledValue: [{ value: '230', measurand: 'Voltage', unit: 'V' }] }] });
  const stop = await cli.call('StopTransaction', { transactionId: tx, idTag: 'TAG1', meterStop: 300, timestamp: now(), reason: 'Local',
    transactionData: [{ timestamp: now(), sampledValue: [{ value: '300' }] }] });
  check(stop.idTagInfo.status === 'Accepted', 'StopTransaction answered');
  const hb = await cli.call('Heartbeat', {});
  check(!Number.isNaN(Date.parse(hb.currentTime)), 'Heartbeat currentTime');
  await cli.call('DataTransfer', { vendorId: 'com.example', messageId: 'x', data: 'y' });
  await cli.call('FirmwareStatusNotification', { status: 'Idle' });
  await cli.call('DiagnosticsStatusNotification', { status: 'Idle' });
  await cli.call('SecurityEventNotification', { type: 'StartupOfTheDevice', timestamp: now() });
  await cli.call('LogStatusNotification', { status: 'Idle' });
  await cli.call('SignedFirmwareStatusNotification', { status: 'Downloaded' });
  await cli.call('SignCertificate', { csr: '-----BEGIN CERTIFICATE REQUEST-----' });
}

async function v201(cli) {
  const boot = await cli.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'OCPPGW', model: 'Strict' } });
  check(boot.status === 'Accepted', 'BootNotification Accepted');
  await cli.call('StatusNotification', { timestamp: now(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
  const idToken = { idToken: 'TAG1', type: 'ISO14443' };
  const auth = await cli.call('Authorize', { idToken });
  check(auth.idTokenInfo.status === 'Accepted', 'Authorize Accepted');
  const transactionInfo = { transactionId: `${identity}-tx1` };
  const started = await cli.call('TransactionEvent', { eventType: 'Started', timestamp: now(), triggerReason: 'Authorized',
    seqNo: 0, transactionInfo, idToken, evse: { id: 1, connectorId: 1 },
    meterValue: [{ timestamp: now(), sampledValue: [{ value: 0, measurand: 'Energy.Active.Import.Register' }] }] });
  check(started.idTokenInfo.status === 'Accepted', 'TransactionEvent Started answered with idTokenInfo');
  await cli.call('StatusNotification', { timestamp: now(), connectorStatus: 'Occupied', evseId: 1, connectorId: 1 });
  await cli.call('MeterValues', { evseId: 1, meterValue: [{ timestamp: now(), sampledValue: [{ value: 230.1, measurand: 'Voltage',
    unitOfMeasure: { unit: 'V' } }] }] });
  await cli.call('TransactionEvent', { eventType: 'Updated', timestamp: now(), triggerReason: 'MeterValuePeriodic', seqNo: 1,
    transactionInfo: { ...transactionInfo, chargingState: 'Charging' },
    meterValue: [{ timestamp: now(), sampledValue: [{ value: 1250.5, measurand: 'Energy.Active.Import.Register',
      unitOfMeasure: { unit: 'Wh' } }] }] });
  await cli.call('TransactionEvent', { eventType: 'Ended', timestamp: now(), triggerReason: 'StopAuthorized', seqNo: 2,
    transactionInfo: { ...transactionInfo, stoppedReason: 'Local' }, idToken });
  const hb = await cli.call('Heartbeat', {});
  check(!Number.isNaN(Date.parse(hb.currentTime)), 'Heartbeat currentTime');
  await cli.call('NotifyEvent', { generatedAt: now(), seqNo: 0, eventData: [{ eventId: 1, timestamp: now(), trigger: 'Alerting',
    actualValue: '1', eventNotificationType: 'HardWiredNotification', component: { name: 'EVSE' }, variable: { name: 'Problem' } }] });
  await cli.call('NotifyReport', { requestId: 1, generatedAt: now(), seqNo: 0 });
  await cli.call('SecurityEventNotification', { type: 'StartupOfTheDevice', timestamp: now() });
  await cli.call('FirmwareStatusNotification', { status: 'Idle' });
  await cli.call('LogStatusNotification', { status: 'Idle' });
  await cli.call('DataTransfer', { vendorId: 'com.example' });
  await cli.call('NotifyEVChargingNeeds', { evseId: 1, chargingNeeds: { requestedEnergyTransfer: 'AC_single_phase' } });
  await cli.call('ReservationStatusUpdate', { reservationId: 1, reservationUpdateStatus: 'Expired' });
  await cli.call('GetCertificateStatus', { ocspRequestData: { hashAlgorithm: 'SHA256', issuerNameHash: 'a',
    issuerKeyHash: 'b', serialNumber: 'c', responderURL: 'http://ocsp' } });
}

(async () => {
  const cli = new RPCClient({ endpoint: `${base}/ocpp`, identity, protocols: [protocol], strictMode: true,
    reconnect: false, callTimeoutMs: 8000 });
  let invalid = 0;
  cli.on('strictValidationFailure', (e) => { invalid++; console.error(`FAIL: invalid ${e.method} ${JSON.stringify(e.result)}: ${e.error.message}`); });
  cli.handle('Reset', ({ params }) => { console.log(`command Reset ${JSON.stringify(params)}`); return { status: 'Accepted' }; });
  cli.handle('ClearCache', () => { console.log('command ClearCache (answering late)');
    return new Promise((resolve) => setTimeout(() => resolve({ status: 'Accepted' }), 2500)); });
  cli.handle('GetConfiguration', () => { console.log('command GetConfiguration (never answered)'); return new Promise(() => {}); });
  cli.handle('GetVariables', () => { console.log('command GetVariables (never answered)'); return new Promise(() => {}); });
  await cli.connect();
  check(cli.protocol === protocol, `subprotocol ${cli.protocol}`);
  if (protocol === 'ocpp1.6') await v16(cli); else await v201(cli);
  check(invalid === 0, 'every gateway response valid in strict mode');
  console.log('session done');
  if (serveMs) await new Promise((r) => setTimeout(r, serveMs));
  await cli.close({ force: true, awaitPending: false });
  clearTimeout(timer);
  process.exit(0);
})().catch((err) => { console.error(`FAIL: ${err.stack || err}`); process.exit(1); });
