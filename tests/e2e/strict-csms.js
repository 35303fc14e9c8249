// strict-csms.js: a CSMS that checks cp-sim against the official OCPP JSON schemas (the ones
// ocpp-rpc ships, strict ajv validation; for ocpp2.1 ajv over proto/ocpp/ocpp2_1.json, whose ids
// are urn:<Action>Request / urn:<Action>Response, and urn:<Action> for a SEND).
//
//   node strict-csms.js <port> <downlink-every>      (port 0: any free port, printed at start)
// Every CALL from a station is validated against <Action>.req of its subprotocol and answered
// with a schema-valid response. After every <downlink-every>-th answer on a connection it sends
// the next CSMS-initiated action of that version (all of them, in turn) and validates the
// station's CALLRESULT against <Action>.conf. A 2.1 SEND (type 6) is validated and never
// answered. On SIGTERM it prints a JSON summary and exits.
'use strict';
const WebSocket = require('ws');
const validators = require('ocpp-rpc/lib/standard-validators');

const [portArg, everyArg] = process.argv.slice(2);
const every = Number(everyArg || 5);
const v = Object.fromEntries(validators.map((x) => [x.subprotocol, x]));
{
  const Ajv = require('ajv');
  const addFormats = require('ajv-formats');
  const ajv = new Ajv({ strict: false });
  addFormats(ajv);
  ajv.addSchema(JSON.parse(require('fs').readFileSync(
    require('path').join(__dirname, '../../proto/ocpp/ocpp2_1.json'))));
  v['ocpp2.1'] = {
    validate(id, params) {
      const f = ajv.getSchema(id);
      if (!f) throw new Error(`no schema ${id}`);
      if (!f(params)) throw new Error(ajv.errorsText(f.errors));
      return true;
    },
  };
}
// the schema id of a message: 1.6 / 2.0.1 as ocpp-rpc names them, 2.1 as the official file does
function schemaId(proto, action, kind) {
  if (proto !== 'ocpp2.1') return `urn:${action}.${kind === 'req' ? 'req' : 'conf'}`;
  return `urn:${action}${kind === 'req' ? 'Request' : kind === 'conf' ? 'Response' : ''}`;
}
const now = () => new Date().toISOString();
const comp = { name: 'EVSE' }, vari = { name: 'Power' };

const downlinks = {
  'ocpp1.6': [
    ['CancelReservation', { reservationId: 1 }], ['ChangeAvailability', { connectorId: 0, type: 'Operative' }],
    ['ChangeConfiguration', { key: 'HeartbeatInterval', value: '60' }], ['ClearCache', {}],
    ['ClearChargingProfile', {}], ['DataTransfer', { vendorId: 'X' }],
    ['GetCompositeSchedule', { connectorId: 1, duration: 60 }], ['GetConfiguration', { key: ['HeartbeatInterval', 'Nope'] }],
    ['GetDiagnostics', { location: 'ftp://x' }], ['GetLocalListVersion', {}],
    ['RemoteStartTransaction', { idTag: 'T1' }], ['RemoteStopTransaction', { transactionId: 1 }],
    ['ReserveNow', { connectorId: 1, expiryDate: now(), idTag: 'T1', reservationId: 1 }], ['Reset', { type: 'Soft' }],
    ['SendLocalList', { listVersion: 1, updateType: 'Full' }],
    ['SetChargingProfile', { connectorId: 1, csChargingProfiles: {} }], ['TriggerMessage', { requestedMessage: 'Heartbeat' }],
    ['UnlockConnector', { connectorId: 1 }], ['UpdateFirmware', { location: 'ftp://x', retrieveDate: now() }],
    ['CertificateSigned', { certificateChain: 'x' }], ['DeleteCertificate', {}], ['ExtendedTriggerMessage', { requestedMessage: 'Heartbeat' }],
    ['GetInstalledCertificateIds', { certificateType: 'CentralSystemRootCertificate' }], ['GetLog', { logType: 'DiagnosticsLog', requestId: 1, log: {} }],
    ['InstallCertificate', {}], ['SignedUpdateFirmware', {}],
  ],
  'ocpp2.0.1': [
    ['CancelReservation', { reservationId: 1 }], ['CertificateSigned', { certificateChain: 'x' }],
    ['ChangeAvailability', { operationalStatus: 'Operative' }], ['ClearCache', {}], ['ClearChargingProfile', {}],
    ['ClearDisplayMessage', { id: 1 }], ['ClearVariableMonitoring', { id: [1, 2] }], ['CostUpdated', { totalCost: 1, transactionId: 't' }],
    ['CustomerInformation', { requestId: 1, report: true, clear: false }], ['DataTransfer', { vendorId: 'X' }],
    ['DeleteCertificate', {}], ['GetBaseReport', { requestId: 1, reportBase: 'FullInventory' }],
    ['GetChargingProfiles', { requestId: 1, chargingProfile: {} }], ['GetCompositeSchedule', { duration: 60, evseId: 1 }],
    ['GetDisplayMessages', { requestId: 1 }], ['GetInstalledCertificateIds', {}], ['GetLocalListVersion', {}],
    ['GetLog', { logType: 'DiagnosticsLog', requestId: 1, log: { remoteLocation: 'x' } }], ['GetMonitoringReport', { requestId: 1 }],
    ['GetReport', { requestId: 1 }], ['GetTransactionStatus', {}],
    ['GetVariables', { getVariableData: [{ component: comp, variable: vari }, { component: { name: 'X' }, variable: { name: 'Y' } }] }],
    ['InstallCertificate', { certificateType: 'V2GRootCertificate', certificate: 'x' }], ['PublishFirmware', {}],
    ['RequestStartTransaction', { idToken: { idToken: 'T', type: 'ISO14443' }, remoteStartId: 1 }],
    ['RequestStopTransaction', { transactionId: 't' }], ['ReserveNow', {}], ['Reset', { type: 'OnIdle' }],
    ['SendLocalList', { versionNumber: 1, updateType: 'Full' }], ['SetChargingProfile', {}], ['SetDisplayMessage', {}],
    ['SetMonitoringBase', { monitoringBase: 'All' }], ['SetMonitoringLevel', { severity: 5 }], ['SetNetworkProfile', {}],
    ['SetVariableMonitoring', { setMonitoringData: [{ value: 1, type: 'Delta', severity: 5, component: comp, variable: vari }] }],
    ['SetVariables', { setVariableData: [{ attributeValue: '1', component: comp, variable: vari }] }],
    ['TriggerMessage', { requestedMessage: 'StatusNotification' }], ['UnlockConnector', { evseId: 1, connectorId: 1 }],
    ['UnpublishFirmware', { checksum: 'x' }], ['UpdateFirmware', { requestId: 1, firmware: {} }],
  ],
};

downlinks['ocpp2.1'] = [
  ...downlinks['ocpp2.0.1'],
  ['AFRRSignal', { timestamp: now(), signal: 1 }], ['AdjustPeriodicEventStream', { id: 1, params: { interval: 5 } }],
  ['ChangeTransactionTariff', { transactionId: 'T1', tariff: { tariffId: 't', currency: 'EUR' } }],
  ['ClearDERControl', { isDefault: false, controlId: 'd1' }], ['ClearTariffs', { tariffIds: ['t1', 't2'] }],
  ['GetDERControl', { requestId: 1 }], ['GetPeriodicEventStream', {}], ['GetTariffs', { evseId: 0 }],
  ['NotifyAllowedEnergyTransfer', { transactionId: 'T1', allowedEnergyTransfer: ['DC'] }],
  ['NotifyWebPaymentStarted', { evseId: 1, timeout: 60 }],
  ['RequestBatterySwap', { requestId: 1, idToken: { idToken: 'T', type: 'ISO14443' } }],
  ['SetDERControl', { isDefault: false, controlId: 'd1', controlType: 'FixedPFAbsorb', fixedPFAbsorb: { priority: 1, displacement: 0.9, excitation: true } }],
  ['SetDefaultTariff', { evseId: 0, tariff: { tariffId: 't', currency: 'EUR' } }],
  ['UpdateDynamicSchedule', { chargingProfileId: 1, scheduleUpdate: { limit: 10 } }],
  ['UsePriorityCharging', { transactionId: 'T1', activate: true }],
];

const answers = {
  BootNotification: () => ({ status: 'Accepted', currentTime: now(), interval: 300 }),
  Heartbeat: () => ({ currentTime: now() }),
  StatusNotification: () => ({}),
  MeterValues: () => ({}),
  StopTransaction: () => ({}),
  TransactionEvent: () => ({}),
  OpenPeriodicEventStream: () => ({ status: 'Accepted' }),
};
let txn = 0;
function answer(proto, action) {
  if (action === 'Authorize') return proto === 'ocpp1.6' ? { idTagInfo: { status: 'Accepted' } } : { idTokenInfo: { status: 'Accepted' } };
  if (action === 'StartTransaction') return { idTagInfo: { status: 'Accepted' }, transactionId: ++txn };
  return answers[action] ? answers[action]() : {};
}

const s = { calls: 0, sends: 0, invalidCalls: [], downlinksSent: 0, replies: 0, invalidReplies: [], callErrors: [], maxFrame: 0,
  covered: { 'ocpp1.6': new Set(), 'ocpp2.0.1': new Set(), 'ocpp2.1': new Set() } };
const seen = {};
function validate(proto, id, params, bad) {
  try { v[proto].validate(id, params); return true; } catch (e) {
    if (bad.length < 20) bad.push(`${proto} ${id}: ${e.message} in ${JSON.stringify(params)}`);
    return false;
  }
}

const wss = new WebSocket.Server({ port: Number(portArg), handleProtocols: (ps) => [...ps].find((p) => v[p]) || false });
wss.on('connection', (ws) => {
  const proto = ws.protocol;
  const pending = new Map();
  let answered = 0, next = 0;
  ws.on('message', (data) => {
    s.maxFrame = Math.max(s.maxFrame, data.length);
    const m = JSON.parse(data.toString());
    if (m[0] === 6) { // 2.1 SEND: validated, never answered
      s.sends++;
      seen[`${proto} ${m[2]}`] = (seen[`${proto} ${m[2]}`] || 0) + 1;
      validate(proto, schemaId(proto, m[2], 'send'), m[3], s.invalidCalls);
    } else if (m[0] === 2) {
      s.calls++;
      seen[`${proto} ${m[2]}`] = (seen[`${proto} ${m[2]}`] || 0) + 1;
      validate(proto, schemaId(proto, m[2], 'req'), m[3], s.invalidCalls);
      ws.send(JSON.stringify([3, m[1], answer(proto, m[2])]));
      if (++answered % every === 0) {
        const list = downlinks[proto];
        const [action, payload] = list[(next++ + (s.downlinksSent % list.length)) % list.length];
        const id = `d${s.downlinksSent++}`;
        pending.set(id, action);
        ws.send(JSON.stringify([2, id, action, payload]));
      }
    } else {
      const action = pending.get(m[1]);
      pending.delete(m[1]);
      if (!action) return;
      if (m[0] === 3) {
        s.replies++;
        if (validate(proto, schemaId(proto, action, 'conf'), m[2], s.invalidReplies)) s.covered[proto].add(action);
      } else {
        s.callErrors.push(`${proto} ${action}: ${m[2]}`);
      }
    }
  });
});
wss.on('listening', () => console.log(`strict-csms listening on ${wss.address().port}`));
process.on('SIGTERM', () => {
  console.log(JSON.stringify({
    calls: s.calls, sends: s.sends, maxFrame: s.maxFrame, invalidCalls: s.invalidCalls, downlinksSent: s.downlinksSent, replies: s.replies,
    invalidReplies: s.invalidReplies, callErrors: s.callErrors.slice(0, 20), seen,
    covered: Object.fromEntries(Object.entries(s.covered).map(([k, x]) => [k, [...x].sort()])),
    expected: Object.fromEntries(Object.entries(downlinks).map(([k, x]) => [k, x.length])),
  }));
  process.exit(0);
});
