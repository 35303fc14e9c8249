// csms.js: "the peer" of bench/bench_e2e.sh: what a CSMS written the usual way in Node does with
// the same traffic as the gateway. ocpp-rpc (strict mode: every CALL and answer validated against
// the OCPP JSON schemas) for OCPP-J 1.6 and 2.0.1, kafkajs for Kafka: one CloudEvents JSON per
// message on the `events` topic (key: the station's identity, acks=all),
// awaited before a transaction message (Start/StopTransaction, MeterValues, TransactionEvent) is
// answered, as the gateway acknowledges only persisted transaction events. Other messages are
// published without waiting for the broker.
//
//   node csms.js PORT BROKERS        (prints "peer: listening" when ready; SIGTERM stops it)
'use strict';
const { RPCServer } = require('ocpp-rpc');
const { Kafka, logLevel } = require('kafkajs');

const [portArg, brokers] = process.argv.slice(2);
const now = () => new Date().toISOString();
const TX = new Set(['StartTransaction', 'StopTransaction', 'MeterValues', 'TransactionEvent']);
let txn = 0, seq = 0, published = 0, failed = 0;

function answer(proto, action) {
  switch (action) {
    case 'BootNotification': return { status: 'Accepted', currentTime: now(), interval: 300 };
    case 'Heartbeat': return { currentTime: now() };
    case 'Authorize':
      return proto === 'ocpp1.6' ? { idTagInfo: { status: 'Accepted' } } : { idTokenInfo: { status: 'Accepted' } };
    case 'StartTransaction': return { idTagInfo: { status: 'Accepted' }, transactionId: ++txn };
    default: return {};
  }
}

async function main() {
  const kafka = new Kafka({ clientId: 'bench-peer', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  // not idempotent: kafkajs looks the transaction coordinator up as broker 0 (the controller id
  // that librdkafka's mock cluster reports), which kafka-dev does not have; acks=all all the same
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  const publish = (identity, proto, action, params) => producer.send({
    topic: 'events', acks: -1,
    messages: [{
      key: identity,
      value: JSON.stringify({
        specversion: '1.0', id: `peer-${++seq}`, source: `/ocpp/${identity}`, type: `ocpp.${action}`,
        time: now(), datacontenttype: 'application/json', subject: identity,
        data: { protocol: proto, action, payload: params },
      }),
    }],
  }).then(() => { published++; }, (e) => { failed++; throw e; });

  const server = new RPCServer({ protocols: ['ocpp2.0.1', 'ocpp1.6'], strictMode: true });
  server.auth((accept) => accept());
  server.on('client', (client) => {
    client.handle(async ({ method, params }) => {
      const p = publish(client.identity, client.protocol, method, params);
      if (TX.has(method)) await p;
      else p.catch(() => {});
      return answer(client.protocol, method);
    });
  });
  await server.listen(Number(portArg), '127.0.0.1');
  console.log('peer: listening');
  process.on('SIGTERM', async () => {
    console.log(JSON.stringify({ published, failed }));
    await server.close({ force: true }).catch(() => {});
    await producer.disconnect().catch(() => {});
    process.exit(0);
  });
}
main().catch((e) => { console.error(`peer: ${e.stack || e}`); process.exit(1); });
