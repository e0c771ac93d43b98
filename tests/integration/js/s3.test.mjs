// End-to-end test of tidepool's S3 with the AWS SDK for JavaScript v3 (@aws-sdk/client-s3) and
// its DEFAULT request handler (NodeHttpHandler, HTTP/1.1) and DEFAULT checksum behaviour: since
// 3.729 the SDK adds a CRC32 checksum to every PutObject/UploadPart — as the x-amz-checksum-crc32
// header for a Buffer/string body, and for a streaming body as aws-chunked with an unsigned
// trailer (x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER, Transfer-Encoding: chunked)
// even over http. A middleware records the headers of every request the SDK sends, and the test
// asserts that those encodings really went over the wire.
//
// Both addressing styles: path-style (forcePathStyle: true → http://127.0.0.1:PORT/BUCKET/KEY)
// and virtual-hosted (forcePathStyle: false, endpoint http://localhost:PORT → the SDK calls
// http://BUCKET.localhost:PORT/KEY). Node's dns.lookup (glibc getaddrinfo, "hosts: files dns")
// does not resolve *.localhost, so the virtual-hosted client gets an http.Agent whose `lookup`
// maps any name ending in .localhost to 127.0.0.1; the test checks both facts.
//
// Run:  cd tests/integration/js && npm ci && TIDEPOOL_BIN=/work/main/build/tidepool node --test s3.test.mjs

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import dns from "node:dns";
import http from "node:http";
import { Readable } from "node:stream";

import {
  S3Client,
  CreateBucketCommand,
  ListBucketsCommand,
  PutObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  DeleteObjectCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { NodeHttpHandler } from "@smithy/node-http-handler";

import { startServer, stopServer } from "./server.mjs";

const MIB = 1024 * 1024;

// ---- server lifecycle (same contract as harness.py: one ready line on stdout) -------------------
let srv;
let port;
const clients = [];


// ---- what the SDK put on the wire ------------------------------------------------------------
// One entry per HTTP request (after checksum, aws-chunked and signing middlewares): the command,
// the host/path it went to and a lower-cased copy of its headers.
const sent = [];

function recordRequests(client) {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const req = args.request;
      const headers = {};
      for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
      sent.push({ command: context.commandName, hostname: req.hostname, path: req.path, headers });
      return next(args);
    },
    { step: "finalizeRequest", priority: "low", name: "tidepoolRecordRequests" },
  );
  return client;
}

// Any *.localhost name → 127.0.0.1 (RFC 6761 says so; glibc without systemd-resolved does not).
function localhostLookup(hostname, options, callback) {
  if (typeof options === "function") {
    callback = options;
    options = {};
  }
  if (hostname === "localhost" || hostname.endsWith(".localhost")) {
    if (options?.all) return process.nextTick(callback, null, [{ address: "127.0.0.1", family: 4 }]);
    return process.nextTick(callback, null, "127.0.0.1", 4);
  }
  return dns.lookup(hostname, options, callback);
}

const credentials = { accessKeyId: "AKIDTIDEPOOLTEST", secretAccessKey: "x" };

function pathClient() {
  const c = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: "us-east-1",
    credentials,
    forcePathStyle: true,
    maxAttempts: 1,
  });
  clients.push(c);
  return recordRequests(c);
}

function vhostClient() {
  const c = new S3Client({
    endpoint: `http://localhost:${port}`,
    region: "us-east-1",
    credentials,
    forcePathStyle: false,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: true, lookup: localhostLookup }) }),
  });
  clients.push(c);
  return recordRequests(c);
}

before(async () => {
  srv = await startServer("tidepool-js-s3-");
  port = srv.port;
});

after(async () => {
  for (const c of clients) c.destroy();
  await stopServer(srv);
});

// ---- helpers ---------------------------------------------------------------------------------
const md5 = (buf) => createHash("md5").update(buf).digest("hex");

async function bodyBytes(resp) {
  return Buffer.from(await resp.Body.transformToByteArray());
}

// A Readable that yields `data` in uneven slices (so the SDK's chunker sees real streaming).
function sliced(data) {
  function* gen() {
    let off = 0;
    let i = 0;
    while (off < data.length) {
      const n = Math.min(data.length - off, 65_536 + ((i++ * 7919) % 200_000));
      yield data.subarray(off, off + n);
      off += n;
    }
  }
  return Readable.from(gen());
}

// The object operations both addressing styles must handle. Returns nothing; asserts inside.
async function exerciseObjects(t, s3, bucket) {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const names = (await s3.send(new ListBucketsCommand({}))).Buckets.map((b) => b.Name);
  assert.ok(names.includes(bucket), `ListBuckets: ${names}`);

  const buf = randomBytes(300_001);
  const str = "héllo, tidepool ✓\n".repeat(1000);
  const big = randomBytes(3 * MIB + 12_345);
  const objects = [
    ["buf.bin", buf, () => buf],
    ["str.txt", Buffer.from(str, "utf8"), () => str],
    ["dir/stream.bin", big, () => sliced(big)],
  ];
  for (const [key, bytes, body] of objects) {
    const extra = key === "dir/stream.bin" ? { ContentLength: bytes.length } : {};
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body(), ...extra }));
    assert.equal(put.ETag, `"${md5(bytes)}"`, `ETag of ${key} = MD5`);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const back = await bodyBytes(got);
    assert.equal(back.length, bytes.length, `length of ${key}`);
    assert.ok(back.equals(bytes), `bytes of ${key} differ`);
    assert.equal(got.ETag, put.ETag);
    assert.equal(got.ContentLength, bytes.length);
  }

  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "dir/stream.bin" }));
  assert.equal(head.ContentLength, big.length);
  assert.equal(head.ETag, `"${md5(big)}"`);
  assert.ok(head.LastModified instanceof Date);
  assert.ok(Math.abs(head.LastModified.getTime() - Date.now()) < 120_000, `LastModified ${head.LastModified}`);

  const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: "/" }));
  assert.deepEqual((list.Contents ?? []).map((o) => o.Key), ["buf.bin", "str.txt"]);
  assert.deepEqual((list.CommonPrefixes ?? []).map((p) => p.Prefix), ["dir/"]);
  assert.equal(list.KeyCount, 3);
  assert.equal(list.Contents[0].Size, buf.length);
  assert.equal(list.Contents[0].ETag, `"${md5(buf)}"`);
  const inDir = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "dir/", Delimiter: "/" }));
  assert.deepEqual((inDir.Contents ?? []).map((o) => o.Key), ["dir/stream.bin"]);

  const rng = await s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: "dir/stream.bin", Range: "bytes=1048570-1048589" }),
  );
  assert.equal(rng.$metadata.httpStatusCode, 206);
  assert.equal(rng.ContentRange, `bytes 1048570-1048589/${big.length}`);
  assert.ok((await bodyBytes(rng)).equals(big.subarray(1048570, 1048590)), "ranged bytes differ");

  const del = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "str.txt" }));
  assert.equal(del.$metadata.httpStatusCode, 204);
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket: bucket, Key: "str.txt" })), (err) => {
    assert.equal(err.name, "NoSuchKey");
    assert.equal(err.$metadata.httpStatusCode, 404);
    assert.ok(err.$metadata.requestId, "x-amz-request-id missing");
    return true;
  });
  const after = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  assert.deepEqual((after.Contents ?? []).map((o) => o.Key), ["buf.bin", "dir/stream.bin"]);
  t.diagnostic(`${bucket}: ${objects.length} objects round-tripped`);
}

// ---- tests -----------------------------------------------------------------------------------
test("the SDK's default S3 request handler is NodeHttpHandler (HTTP/1.1)", () => {
  const s3 = pathClient();
  assert.equal(s3.config.requestHandler.constructor.name, "NodeHttpHandler");
});

test("path-style: buckets, PutObject (Buffer, string, stream), Get, Head, List, Range, Delete, NoSuchKey", async (t) => {
  const s3 = pathClient();
  const first = sent.length;
  await exerciseObjects(t, s3, "js-path");
  const mine = sent.slice(first).filter((r) => r.command !== "ListBucketsCommand"); // GET / has no bucket
  assert.ok(mine.length > 0);
  for (const r of mine) {
    assert.equal(r.hostname, "127.0.0.1", `path-style request went to ${r.hostname}`);
    assert.ok(r.path.startsWith("/js-path"), `path-style path ${r.path}`);
  }
});

test("default checksums went over the wire: CRC32 header for Buffer/string, aws-chunked + unsigned trailer for a stream", async (t) => {
  const s3 = pathClient();
  const first = sent.length;
  const small = Buffer.from("checksum me");
  const big = randomBytes(2 * MIB + 3);
  await s3.send(new CreateBucketCommand({ Bucket: "js-sums" }));
  await s3.send(new PutObjectCommand({ Bucket: "js-sums", Key: "small", Body: small }));
  await s3.send(new PutObjectCommand({ Bucket: "js-sums", Key: "stream", Body: sliced(big), ContentLength: big.length }));
  const puts = sent.slice(first).filter((r) => r.command === "PutObjectCommand");
  assert.equal(puts.length, 2);
  const [bufPut, streamPut] = puts;

  const anyChecksum = puts.some(
    (r) =>
      r.headers["x-amz-content-sha256"] === "STREAMING-UNSIGNED-PAYLOAD-TRAILER" ||
      Object.keys(r.headers).some((h) => h.startsWith("x-amz-checksum-")),
  );
  assert.ok(anyChecksum, `no PutObject carried a checksum: ${JSON.stringify(puts.map((p) => p.headers))}`);

  // Buffer body: CRC32 in a header (base64 of the 4-byte big-endian CRC-32).
  assert.match(bufPut.headers["x-amz-checksum-crc32"] ?? "", /^[A-Za-z0-9+/]{6}==$/, JSON.stringify(bufPut.headers));
  // Stream body: aws-chunked with an unsigned trailer, over plain http.
  assert.equal(streamPut.headers["x-amz-content-sha256"], "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
  assert.match(streamPut.headers["content-encoding"], /aws-chunked/);
  assert.equal(streamPut.headers["x-amz-trailer"], "x-amz-checksum-crc32");
  assert.equal(String(streamPut.headers["x-amz-decoded-content-length"]), String(big.length));
  t.diagnostic(
    `stream PutObject: x-amz-content-sha256=${streamPut.headers["x-amz-content-sha256"]}, ` +
      `transfer-encoding=${streamPut.headers["transfer-encoding"]}, content-length=${streamPut.headers["content-length"]}`,
  );

  // What the server stored is the decoded payload, and the SDK's response checksum validation
  // (when_supported) passes on the way back.
  const got = await s3.send(new GetObjectCommand({ Bucket: "js-sums", Key: "stream", ChecksumMode: "ENABLED" }));
  assert.ok((await bodyBytes(got)).equals(big), "aws-chunked upload stored different bytes");
  const gotSmall = await s3.send(new GetObjectCommand({ Bucket: "js-sums", Key: "small", ChecksumMode: "ENABLED" }));
  assert.ok((await bodyBytes(gotSmall)).equals(small));
  assert.equal(gotSmall.ChecksumCRC32, bufPut.headers["x-amz-checksum-crc32"], "stored CRC32 differs from the one sent");
});

test("the vhost client's lookup maps BUCKET.localhost to 127.0.0.1 (Node's own dns.lookup may not)", async (t) => {
  const res = await new Promise((r) => dns.lookup("js-vhost.localhost", (err, addr) => r({ err, addr })));
  // Either way the test below works; this records which case this machine is.
  t.diagnostic(res.err ? `dns.lookup: ${res.err.code}` : `dns.lookup resolved to ${res.addr}`);
  const mine = await new Promise((r) => localhostLookup("js-vhost.localhost", {}, (err, addr) => r({ err, addr })));
  assert.equal(mine.addr, "127.0.0.1");
});

test("virtual-hosted (forcePathStyle false): the SDK calls http://BUCKET.localhost:PORT/KEY", async (t) => {
  const s3 = vhostClient();
  const first = sent.length;
  await exerciseObjects(t, s3, "js-vhost");
  const mine = sent.slice(first).filter((r) => r.command !== "ListBucketsCommand");
  assert.ok(mine.length > 0);
  for (const r of mine) {
    assert.equal(r.hostname, "js-vhost.localhost", `${r.command} went to ${r.hostname}${r.path}`);
    assert.ok(!r.path.startsWith("/js-vhost"), `virtual-hosted path must not repeat the bucket: ${r.path}`);
    assert.equal(r.headers.host, `js-vhost.localhost:${port}`, "signed Host header");
  }
});

test("multipart upload with lib-storage Upload (12 MiB, 5 MiB parts), both addressing styles", async (t) => {
  for (const [style, s3, bucket] of [
    ["path", pathClient(), "js-mpu-path"],
    ["vhost", vhostClient(), "js-mpu-vhost"],
  ]) {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const data = randomBytes(12 * MIB + 4321);
    const first = sent.length;
    const upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: "big/object.bin", Body: sliced(data) },
      partSize: 5 * MIB,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const done = await upload.done();
    const mine = sent.slice(first);
    const parts = mine.filter((r) => r.command === "UploadPartCommand");
    assert.equal(parts.length, 3, `UploadPart calls: ${mine.map((r) => r.command)}`);
    for (const p of parts) {
      const h = p.headers;
      assert.ok(
        h["x-amz-checksum-crc32"] || h["x-amz-content-sha256"] === "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        `UploadPart without the default CRC32 checksum: ${JSON.stringify(h)}`,
      );
    }
    assert.ok(mine.some((r) => r.command === "CreateMultipartUploadCommand"));
    assert.ok(mine.some((r) => r.command === "CompleteMultipartUploadCommand"));
    const partMd5s = [0, 1, 2].map((i) =>
      createHash("md5")
        .update(data.subarray(i * 5 * MIB, Math.min(data.length, (i + 1) * 5 * MIB)))
        .digest(),
    );
    const wantEtag = `"${createHash("md5").update(Buffer.concat(partMd5s)).digest("hex")}-3"`;
    assert.equal(done.ETag, wantEtag, `${style}: multipart ETag`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "big/object.bin" }));
    assert.equal(head.ContentLength, data.length);
    assert.equal(head.ETag, wantEtag);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "big/object.bin" }));
    assert.ok((await bodyBytes(got)).equals(data), `${style}: multipart object bytes differ`);
    const rng = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: "big/object.bin", Range: `bytes=${5 * MIB - 3}-${5 * MIB + 2}` }),
    );
    assert.ok((await bodyBytes(rng)).equals(data.subarray(5 * MIB - 3, 5 * MIB + 3)), "range across a part boundary");
    t.diagnostic(`${style}: ${parts.length} parts, ETag ${done.ETag}`);
  }
});
