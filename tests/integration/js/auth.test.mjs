// tidepool --auth FILE with the AWS SDK for JavaScript v3 and its default request handlers:
// Kinesis over HTTP/2 cleartext (NodeHttp2Handler; the test counts the HTTP/2 requests) and S3
// over HTTP/1.1, path-style and virtual-hosted, with a Buffer body (signed payload hash) and a
// stream body (aws-chunked with an unsigned CRC32 trailer under a signed header). Requests signed
// with a key from the file pass; the same requests with a wrong secret or an unknown key are
// refused with AWS's error codes.
//
// Run:  cd tests/integration/js && npm ci && TIDEPOOL_BIN=/work/main/build/tidepool node --test auth.test.mjs

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";

import { KinesisClient, CreateStreamCommand, ListStreamsCommand, PutRecordCommand } from "@aws-sdk/client-kinesis";
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";

import { startServer, stopServer } from "./server.mjs";

const KEY = { accessKeyId: "AKIDJSAUTHTEST", secretAccessKey: "js/auth+secret" };
const BUCKET = "js-auth-bucket";

// every HTTP/2 request the SDK makes
let h2Requests = 0;
const realConnect = http2.connect;
http2.connect = function patchedConnect(...args) {
  const session = realConnect.apply(this, args);
  const realRequest = session.request;
  session.request = function patchedRequest(...rargs) {
    h2Requests += 1;
    return realRequest.apply(this, rargs);
  };
  return session;
};

let srv;
let keyDir;
const clients = [];

before(async () => {
  keyDir = mkdtempSync(join(tmpdir(), "tidepool-js-auth-keys-"));
  const keyFile = join(keyDir, "keys.json");
  writeFileSync(keyFile, JSON.stringify({ credentials: [KEY] }));
  srv = await startServer("tidepool-js-auth-", ["--auth", keyFile]);
});

after(async () => {
  for (const c of clients) c.destroy();
  await stopServer(srv);
  rmSync(keyDir, { recursive: true, force: true });
});

function kinesis(credentials) {
  const c = new KinesisClient({ endpoint: srv.endpoint, region: "us-east-1", credentials, maxAttempts: 1 });
  clients.push(c);
  return c;
}

function s3(credentials, forcePathStyle = true) {
  const c = new S3Client({ endpoint: srv.endpoint, region: "us-east-1", credentials, forcePathStyle, maxAttempts: 1 });
  clients.push(c);
  return c;
}

async function refused(promise, name, status) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, name, `${err.name}: ${err.message}`);
    assert.equal(err.$metadata?.httpStatusCode, status);
    return true;
  });
}

test("Kinesis over HTTP/2: signed requests pass, a wrong secret or unknown key is refused", async () => {
  const before = h2Requests;
  const k = kinesis(KEY);
  await k.send(new CreateStreamCommand({ StreamName: "js-auth", ShardCount: 1 }));
  const names = (await k.send(new ListStreamsCommand({}))).StreamNames;
  assert.ok(names.includes("js-auth"), JSON.stringify(names));
  assert.ok(h2Requests - before >= 2, "the calls went over HTTP/2");

  const wrong = kinesis({ ...KEY, secretAccessKey: "wrong" });
  await refused(wrong.send(new ListStreamsCommand({})), "InvalidSignatureException", 400);
  await refused(
    wrong.send(new PutRecordCommand({ StreamName: "js-auth", PartitionKey: "p", Data: Buffer.from("x") })),
    "InvalidSignatureException",
    400,
  );
  const unknown = kinesis({ accessKeyId: "AKIDNOTLISTED", secretAccessKey: "x" });
  await refused(unknown.send(new ListStreamsCommand({})), "UnrecognizedClientException", 400);
  assert.ok(h2Requests - before >= 5, "the refused calls went over HTTP/2 too");
});

test("S3: signed requests pass (buffer and streaming bodies), a wrong secret is refused", async () => {
  const c = s3(KEY);
  await c.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const small = randomBytes(1000);
  await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: "small", Body: small }));
  const got = await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: "small" }));
  assert.deepEqual(Buffer.from(await got.Body.transformToByteArray()), small);

  // a stream body: aws-chunked, STREAMING-UNSIGNED-PAYLOAD-TRAILER in the signed header
  const big = randomBytes(3 * 1024 * 1024);
  await c.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: "streamed", Body: Readable.from([big]), ContentLength: big.length }),
  );
  const back = await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: "streamed" }));
  assert.deepEqual(Buffer.from(await back.Body.transformToByteArray()), big);

  const wrong = s3({ ...KEY, secretAccessKey: "wrong" });
  await refused(wrong.send(new GetObjectCommand({ Bucket: BUCKET, Key: "small" })), "SignatureDoesNotMatch", 403);
  await refused(
    wrong.send(new PutObjectCommand({ Bucket: BUCKET, Key: "refused", Body: small })),
    "SignatureDoesNotMatch",
    403,
  );
  const unknown = s3({ accessKeyId: "AKIDNOTLISTED", secretAccessKey: "x" });
  await refused(unknown.send(new GetObjectCommand({ Bucket: BUCKET, Key: "small" })), "InvalidAccessKeyId", 403);
});
