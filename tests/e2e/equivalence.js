// equivalence.js: one physical charging session (boot, plug in, authorize, charge with meter
// values, stop) driven by an ocpp-rpc client (strict schema mode) speaking 1.6 or 2.0.1, then
// it stays connected and answers the gateway's commands.
//
//   node equivalence.js <ws-base-url> <identity> <ocpp1.6|ocpp2.0.1> <serve-ms>
// The 1.6 and 2.0.1 sessions describe the same physics (connector 1 = evse 1, energy register
// 1000 Wh -> 1500 Wh (sent as kWh) -> 2500 Wh, 7.4 kW, stopped because the EV was unplugged),
// each in its version's words, so the unified events must be equal (test_unified_e2e.sh).
// Commands: every CALL is printed as "command <action> <payload>" and answered Accepted (the
// response shape of each action the test sends).
'use strict';
const { RPCClient } = require('ocpp-rpc');

const [base, identity, protocol, serveArg] = process.argv.slice(2);
const serveMs = Number(serveArg || 0);
const timer = setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 20000 + serveMs);
const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (s) => new Date(T0 + s * 1000).toISOString();

async function v16(cli) {
  await cli.call('BootNotification', { chargePointVendor: 'OCPPGW', chargePointModel: 'Twin' });
  await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing', timestamp: at(0) });
  await cli.call('Authorize', { idTag: 'TAG1' });
  const start = await cli.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 1000, timestamp: at(1) });
  const tx = start.transactionId;
  await cli.call('MeterValues', { connectorId: 1, transactionId: tx, meterValue: [{ timestamp: at(60), sampledValue: [
    { value: '1.5', unit: 'kWh', measurand: 'Energy.Active.Import.Register' },
    { value: '7400', measurand: 'Power.Active.Import', unit: 'W' }] }] });
  await cli.call('StopTransaction', { transactionId: tx, idTag: 'TAG1', meterStop: 2500, timestamp: at(120), reason: 'EVDisconnected' });
  await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: at(121) });
}

async function v201(cli) {
  await cli.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'OCPPGW', model: 'Twin' } });
  await cli.call('StatusNotification', { timestamp: at(0), connectorStatus: 'Occupied', evseId: 1, connectorId: 1 });
  await cli.call('Authorize', { idToken: { idToken: 'TAG1', type: 'ISO14443' } });
  const tx = 'TX-201-1';
  const idToken = { idToken: 'TAG1', type: 'ISO14443' };
  await cli.call('TransactionEvent', { eventType: 'Started', timestamp: at(1), triggerReason: 'Authorized', seqNo: 0,
    transactionInfo: { transactionId: tx }, idToken, evse: { id: 1, connectorId: 1 },
    meterValue: [{ timestamp: at(1), sampledValue: [{ value: 1, context: 'Transaction.Begin', unitOfMeasure: { unit: 'kWh' } }] }] });
  await cli.call('TransactionEvent', { eventType: 'Updated', timestamp: at(60), triggerReason: 'MeterValuePeriodic', seqNo: 1,
    transactionInfo: { transactionId: tx, chargingState: 'Charging' }, evse: { id: 1, connectorId: 1 },
    meterValue: [{ timestamp: at(60), sampledValue: [
      { value: 1500, measurand: 'Energy.Active.Import.Register' },
      { value: 7.4, measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'kW' } }] }] });
  await cli.call('TransactionEvent', { eventType: 'Ended', timestamp: at(120), triggerReason: 'EVCommunicationLost', seqNo: 2,
    transactionInfo: { transactionId: tx, stoppedReason: 'EVDisconnected' }, idToken,
    meterValue: [{ timestamp: at(120), sampledValue: [{ value: 2500, context: 'Transaction.End' }] }] });
  await cli.call('StatusNotification', { timestamp: at(121), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
}

(async () => {
  const cli = new RPCClient({ endpoint: `${base}/ocpp`, identity, protocols: [protocol], strictMode: true, reconnect: false });
  cli.handle(({ method, params }) => {
    console.log(`command ${method} ${JSON.stringify(params)}`);
    if (method === 'GetDiagnostics') return {};
    return { status: 'Accepted' };
  });
  await cli.connect();
  await (protocol === 'ocpp1.6' ? v16(cli) : v201(cli));
  console.log('session done');
  if (serveMs) await new Promise((r) => setTimeout(r, serveMs));
  await cli.close();
  clearTimeout(timer);
})().catch((e) => { console.error('FAIL:', e.message || e); process.exit(1); });
