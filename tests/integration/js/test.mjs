// End-to-end test of tidepool with the AWS SDK for JavaScript v3 and its DEFAULT request
// handler. For Kinesis that handler is NodeHttp2Handler (the client's runtimeConfig builds it,
// because SubscribeToShard needs HTTP/2), so against an http:// endpoint every call here is
// HTTP/2 cleartext with prior knowledge. The test checks that claim in node_modules, records
// every HTTP/2 session and request the SDK opens, and asserts they carried the calls.
//
// Run:  cd tests/integration/js && npm ci && TIDEPOOL_BIN=/work/main/build/tidepool node --test test.mjs

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { createRequire } from "node:module";

import {
  KinesisClient,
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  ListShardsCommand,
  ListStreamsCommand,
  PutRecordsCommand,
  GetShardIteratorCommand,
  GetRecordsCommand,
} from "@aws-sdk/client-kinesis";
import { NodeHttpHandler, NodeHttp2Handler } from "@smithy/node-http-handler";

import { startServer, stopServer } from "./server.mjs";

const ACCOUNT = "000000000000";
const MAX_HASH = (1n << 128n) - 1n;
const STREAM = "js-stream";

// ---- record every HTTP/2 session and request the SDK makes ----------------------------------
const h2 = { sessions: [], requests: 0 };
const realConnect = http2.connect;
http2.connect = function patchedConnect(...args) {
  const session = realConnect.apply(this, args);
  h2.sessions.push(session);
  const realRequest = session.request;
  session.request = function patchedRequest(...rargs) {
    h2.requests += 1;
    return realRequest.apply(this, rargs);
  };
  return session;
};

// ---- server lifecycle ------------------------------------------------------------------------
let srv;
let endpoint;
let client;


function newClient(extra = {}) {
  return new KinesisClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDTIDEPOOLTEST", secretAccessKey: "x" },
    maxAttempts: 1,
    ...extra,
  });
}

before(async () => {
  srv = await startServer("tidepool-js-");
  endpoint = srv.endpoint;
  client = newClient();
});

after(async () => {
  client?.destroy();
  await stopServer(srv);
});

// ---- helpers ---------------------------------------------------------------------------------
const hashKey = (pk) => BigInt("0x" + createHash("md5").update(pk, "utf8").digest("hex"));

function expectedRanges(n) {
  const step = (1n << 128n) / BigInt(n);
  return Array.from({ length: n }, (_, i) => [
    BigInt(i) * step,
    i === n - 1 ? MAX_HASH : BigInt(i + 1) * step - 1n,
  ]);
}

async function waitActive(name) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const s = (await client.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary;
    if (s.StreamStatus === "ACTIVE") return s;
    if (Date.now() > deadline) throw new Error(`stream ${name} not ACTIVE: ${s.StreamStatus}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function readShard(name, shardId) {
  let it = (
    await client.send(new GetShardIteratorCommand({ StreamName: name, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON" }))
  ).ShardIterator;
  const out = [];
  for (let i = 0; i < 1000; i++) {
    const r = await client.send(new GetRecordsCommand({ ShardIterator: it }));
    out.push(...r.Records);
    if (r.Records.length === 0 && r.MillisBehindLatest === 0) return out;
    assert.ok(r.NextShardIterator, "open shard must return NextShardIterator");
    it = r.NextShardIterator;
  }
  throw new Error("shard not drained");
}

// ---- tests -----------------------------------------------------------------------------------
test("the SDK's default Kinesis request handler is NodeHttp2Handler", () => {
  const require = createRequire(import.meta.url);
  const entry = require.resolve("@aws-sdk/client-kinesis");
  const src = readFileSync(entry, "utf8");
  assert.match(src, /requestHandler:\s*NodeHttp2Handler\.create\(/, `client runtimeConfig in ${entry}`);
  const handler = client.config.requestHandler;
  assert.equal(handler.constructor.name, "NodeHttp2Handler");
  assert.equal(handler.metadata?.handlerProtocol, "h2");
});

test("CreateStream (4 shards), PutRecords 500, ListShards, read back byte-identical over HTTP/2", async (t) => {
  const h2RequestsBefore = h2.requests;
  let calls = 0;
  const send = (cmd) => {
    calls += 1;
    return client.send(cmd);
  };

  await send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: 4 }));
  const summary = await waitActive(STREAM);
  calls += 1; // at least one DescribeStreamSummary
  assert.equal(summary.OpenShardCount, 4);
  assert.equal(summary.StreamARN, `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/${STREAM}`);

  const shards = (await send(new ListShardsCommand({ StreamName: STREAM }))).Shards;
  assert.deepEqual(
    shards.map((s) => s.ShardId),
    [0, 1, 2, 3].map((i) => `shardId-${String(i).padStart(12, "0")}`),
  );
  assert.deepEqual(
    shards.map((s) => [BigInt(s.HashKeyRange.StartingHashKey), BigInt(s.HashKeyRange.EndingHashKey)]),
    expectedRanges(4),
  );

  const entries = Array.from({ length: 500 }, (_, i) => ({
    PartitionKey: i % 5 === 0 ? `ключ-${i}` : `js-${i}-${Math.random()}`,
    Data: i === 0 ? new Uint8Array(0) : new Uint8Array(randomBytes(i === 1 ? 200_000 : (i * 37) % 1500)),
  }));
  const put = await send(new PutRecordsCommand({ StreamName: STREAM, Records: entries }));
  assert.equal(put.FailedRecordCount ?? 0, 0);
  assert.equal(put.Records.length, 500);
  const bySeq = new Map();
  put.Records.forEach((r, i) => {
    const h = hashKey(entries[i].PartitionKey);
    const want = shards.find(
      (s) => BigInt(s.HashKeyRange.StartingHashKey) <= h && h <= BigInt(s.HashKeyRange.EndingHashKey),
    ).ShardId;
    assert.equal(r.ShardId, want, `routing of ${entries[i].PartitionKey}`);
    assert.match(r.SequenceNumber, /^(0|[1-9]\d{0,128})$/);
    bySeq.set(r.SequenceNumber, { ...entries[i], ShardId: r.ShardId });
  });
  assert.equal(bySeq.size, 500, "sequence numbers must be unique");
  assert.equal(new Set(put.Records.map((r) => r.ShardId)).size, 4, "500 records should hit all 4 shards");

  let total = 0;
  for (const s of shards) {
    const recs = await readShard(STREAM, s.ShardId);
    const seqs = recs.map((r) => BigInt(r.SequenceNumber));
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i - 1] < seqs[i], "sequence numbers increase");
    for (const r of recs) {
      const sent = bySeq.get(r.SequenceNumber);
      assert.ok(sent, `unknown sequence number ${r.SequenceNumber}`);
      assert.equal(sent.ShardId, s.ShardId);
      assert.equal(r.PartitionKey, sent.PartitionKey);
      assert.ok(Buffer.from(r.Data).equals(Buffer.from(sent.Data)), `data of ${r.SequenceNumber} differs`);
      assert.ok(r.ApproximateArrivalTimestamp instanceof Date);
      assert.ok(Math.abs(r.ApproximateArrivalTimestamp.getTime() - Date.now()) < 60_000);
    }
    total += recs.length;
  }
  assert.equal(total, 500);

  // Every call above went through HTTP/2 sessions opened by the SDK.
  assert.ok(h2.sessions.length >= 1, "no HTTP/2 session was opened");
  for (const s of h2.sessions) assert.equal(s.alpnProtocol, "h2c", "cleartext HTTP/2 with prior knowledge");
  assert.ok(h2.requests - h2RequestsBefore >= calls, `only ${h2.requests - h2RequestsBefore} HTTP/2 requests for ${calls} calls`);
  t.diagnostic(`protocol: HTTP/2 cleartext (h2c), ${h2.sessions.length} session(s), ${h2.requests} request(s)`);
});

test("ResourceNotFoundException carries AWS's name, message, status and request id", async () => {
  await assert.rejects(
    client.send(new DescribeStreamSummaryCommand({ StreamName: "nope" })),
    (err) => {
      assert.equal(err.name, "ResourceNotFoundException");
      assert.equal(err.message, `Stream nope under account ${ACCOUNT} not found.`);
      assert.equal(err.$fault, "client");
      assert.equal(err.$metadata.httpStatusCode, 400);
      assert.ok(err.$metadata.requestId, "x-amzn-RequestId missing");
      return true;
    },
  );
});

test("many concurrent requests multiplexed on one HTTP/2 connection", async (t) => {
  // The default handler opens one session per request (disableConcurrentStreams: true); Java's
  // Netty client and others multiplex, which the server must handle too.
  const mux = newClient({ requestHandler: new NodeHttp2Handler({ disableConcurrentStreams: false }) });
  try {
    await mux.send(new CreateStreamCommand({ StreamName: "js-mux", ShardCount: 2 }));
    await waitActive("js-mux");
    const payloads = Array.from({ length: 40 }, (_, i) => new Uint8Array(randomBytes(1000 + i * 997)));
    const sessionsBefore = h2.sessions.length;
    const requestsBefore = h2.requests;
    const puts = await Promise.all(
      payloads.map((Data, i) =>
        mux.send(new PutRecordsCommand({ StreamName: "js-mux", Records: [{ PartitionKey: `m${i}`, Data }] })),
      ),
    );
    const newSessions = h2.sessions.length - sessionsBefore;
    assert.equal(h2.requests - requestsBefore, 40);
    assert.ok(newSessions <= 1, `40 concurrent calls opened ${newSessions} sessions: not multiplexed`);
    t.diagnostic(`multiplexing: 40 concurrent requests over ${newSessions} new session(s)`);
    assert.ok(puts.every((p) => (p.FailedRecordCount ?? 0) === 0));
    const sent = new Map(puts.map((p, i) => [p.Records[0].SequenceNumber, payloads[i]]));
    assert.equal(sent.size, 40);
    let read = 0;
    for (const shardId of ["shardId-000000000000", "shardId-000000000001"]) {
      for (const r of await readShard("js-mux", shardId)) {
        assert.ok(Buffer.from(r.Data).equals(Buffer.from(sent.get(r.SequenceNumber))), "multiplexed data mixed up");
        read += 1;
      }
    }
    assert.equal(read, 40);
  } finally {
    mux.destroy();
  }
});

test("the same server also answers the SDK over HTTP/1.1 (NodeHttpHandler)", async () => {
  // Independent of the HTTP/2 tests, so a failure there can be told apart from a general one.
  const before = h2.requests;
  const c11 = newClient({ requestHandler: new NodeHttpHandler() });
  try {
    await c11.send(new CreateStreamCommand({ StreamName: "js-h1", ShardCount: 1 }));
    for (let i = 0; i < 300; i++) {
      const s = (await c11.send(new DescribeStreamSummaryCommand({ StreamName: "js-h1" }))).StreamDescriptionSummary;
      if (s.StreamStatus === "ACTIVE") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const data = new Uint8Array(randomBytes(5000));
    const put = await c11.send(
      new PutRecordsCommand({ StreamName: "js-h1", Records: [{ PartitionKey: "p", Data: data }] }),
    );
    assert.equal(put.FailedRecordCount ?? 0, 0);
    const it = (
      await c11.send(
        new GetShardIteratorCommand({ StreamName: "js-h1", ShardId: "shardId-000000000000", ShardIteratorType: "TRIM_HORIZON" }),
      )
    ).ShardIterator;
    const got = await c11.send(new GetRecordsCommand({ ShardIterator: it }));
    assert.equal(got.Records.length, 1);
    assert.ok(Buffer.from(got.Records[0].Data).equals(Buffer.from(data)));
    assert.ok((await c11.send(new ListStreamsCommand({}))).StreamNames.includes("js-h1"));
    await assert.rejects(c11.send(new DescribeStreamSummaryCommand({ StreamName: "nope" })), {
      name: "ResourceNotFoundException",
      message: `Stream nope under account ${ACCOUNT} not found.`,
    });
  } finally {
    c11.destroy();
  }
  assert.equal(h2.requests, before, "the HTTP/1.1 client must not have used HTTP/2");
});
