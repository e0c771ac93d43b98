// The AWS SDK for JavaScript v3 Kinesis client over TLS (tidepool serve --tls-port): its default
// request handler, NodeHttp2Handler, negotiates h2 by ALPN, trusting tidepool's local CA (given
// as the handler's http2.connect options, since NODE_EXTRA_CA_CERTS is read only at start-up).
// Once against https://localhost:PORT, once under the AWS host name
// kinesis.us-east-1.amazonaws.com (a `lookup` sends it to 127.0.0.1), which must get a
// certificate for that name.
//
// Run:  cd tests/integration/js && npm ci && TIDEPOOL_BIN=/work/main/build/tidepool node --test tls.test.mjs

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http2 from "node:http2";

import {
  KinesisClient,
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  ListStreamsCommand,
  PutRecordCommand,
  GetShardIteratorCommand,
  GetRecordsCommand,
} from "@aws-sdk/client-kinesis";

import { startServer, stopServer } from "./server.mjs";

const AWS_NAME = "kinesis.us-east-1.amazonaws.com";

// Every HTTP/2 session the SDK opens, to check how it was negotiated.
const sessions = [];
const realConnect = http2.connect;
http2.connect = function patchedConnect(...args) {
  const session = realConnect.apply(this, args);
  sessions.push(session);
  return session;
};

let srv;
const clients = [];

// A resolver for the AWS name only (Node calls it with all: true when autoSelectFamily is on).
function toLoopback(hostname, options, callback) {
  assert.equal(hostname, AWS_NAME);
  if (options.all) callback(null, [{ address: "127.0.0.1", family: 4 }]);
  else callback(null, "127.0.0.1", 4);
}

function newClient(host, connectOptions = {}) {
  const client = new KinesisClient({
    endpoint: `https://${host}:${srv.tlsPort}`,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDTIDEPOOLTEST", secretAccessKey: "x" },
    maxAttempts: 1,
    // Options for the default handler (the client runs NodeHttp2Handler.create on them).
    requestHandler: { nodeHttp2ConnectOptions: { ca: readFileSync(srv.caPath), ...connectOptions } },
  });
  clients.push(client);
  return client;
}

before(async () => {
  srv = await startServer("tidepool-js-tls-", ["--tls-port", "0"]);
});

after(async () => {
  for (const c of clients) c.destroy();
  await stopServer(srv);
});

async function roundTrip(client, stream) {
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
  for (let i = 0; ; i++) {
    const s = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    if (s.StreamDescriptionSummary.StreamStatus === "ACTIVE") break;
    assert.ok(i < 300, "stream never ACTIVE");
    await new Promise((r) => setTimeout(r, 50));
  }
  const data = new TextEncoder().encode(`hello over TLS to ${stream}`);
  const put = await client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: "pk", Data: data }));
  const it = await client.send(
    new GetShardIteratorCommand({ StreamName: stream, ShardId: put.ShardId, ShardIteratorType: "TRIM_HORIZON" }),
  );
  const got = await client.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
  assert.equal(got.Records.length, 1);
  assert.deepEqual(Buffer.from(got.Records[0].Data), Buffer.from(data));
  const names = (await client.send(new ListStreamsCommand({}))).StreamNames;
  assert.ok(names.includes(stream));
}

test("Kinesis over https://localhost with the default handler: HTTP/2 negotiated by ALPN", async () => {
  const client = newClient("localhost");
  assert.equal(client.config.requestHandler.constructor.name, "NodeHttp2Handler");
  const before = sessions.length;
  await roundTrip(client, "js-tls");
  const mine = sessions.slice(before);
  assert.ok(mine.length >= 1, "no HTTP/2 session was opened");
  for (const s of mine) {
    assert.equal(s.alpnProtocol, "h2");
    assert.equal(s.encrypted, true);
    assert.equal(s.socket.getPeerCertificate().subjectaltname, "DNS:localhost");
  }
});

test("Kinesis under its AWS host name gets a certificate for that name", async () => {
  const client = newClient(AWS_NAME, { lookup: toLoopback });
  const before = sessions.length;
  await roundTrip(client, "js-tls-aws-name");
  const mine = sessions.slice(before);
  assert.ok(mine.length >= 1);
  for (const s of mine) {
    assert.equal(s.alpnProtocol, "h2");
    assert.equal(s.socket.getPeerCertificate().subjectaltname, `DNS:${AWS_NAME}`);
  }
});
