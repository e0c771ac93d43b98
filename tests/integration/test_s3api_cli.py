#!/usr/bin/env python3
"""`aws s3api ... --output json` end to end, with the AWS CLI v1 (`aws` on PATH) and v2
(/usr/bin/aws): buckets (with a LocationConstraint), objects up and down byte-identical with
metadata, tags and ranges, listings (prefix, delimiter, odd keys, server-side and CLI-side
paging), copies (COPY and REPLACE metadata), DeleteObjects, a multipart upload driven by hand,
and the error codes and exit statuses the CLI reports.

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_s3api_cli.py
Override the CLIs with TIDEPOOL_AWS_CLI_V1=/path/to/aws and TIDEPOOL_AWS_CLI_V2=/path/to/aws.

Every CLI call is a fresh process (~1 s), so independent calls run a few at a time (many())."""

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import ServerTestCase, main  # noqa: E402
from test_cli import CLI_V1, CLI_V2, cli_major  # noqa: E402

MIB = 1024 * 1024


def rnd(n, seed):
    return random.Random(seed).randbytes(n)


def md5_etag(data):
    return '"%s"' % hashlib.md5(data).hexdigest()


def multipart_etag(parts):
    return '"%s-%d"' % (hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest(), len(parts))


class S3ApiCliMixin:
    cli = None  # path of the `aws` executable
    major = None  # 1 or 2
    error_rc = None  # exit status of a service error: 255 for CLI v1, 254 for CLI v2

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = harness.isolated_aws_env(temp_home=True)
        cls.tmp = tempfile.mkdtemp(prefix="tidepool-s3api-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)

    # ---- running the CLI ---------------------------------------------------------------
    def run_cli(self, *args, service="s3api", timeout=120):
        cmd = [self.cli, "--endpoint-url", self.server.endpoint, "--region", "us-east-1", "--output", "json",
               service, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env, cwd=self.tmp)

    def ok(self, p):
        """Assert success; the parsed JSON output (None when the CLI printed nothing)."""
        self.assertEqual(p.returncode, 0, f"{' '.join(p.args[7:])} failed rc={p.returncode}\n{p.stdout}\n{p.stderr}")
        return json.loads(p.stdout) if p.stdout.strip() else None

    def api(self, *args):
        return self.ok(self.run_cli(*args))

    def many(self, *calls):
        """Run independent CLI calls (tuples of arguments, or callables) concurrently; their
        CompletedProcesses in order."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(lambda c: c() if callable(c) else self.run_cli(*c), calls))

    def assertAwsError(self, p, code, operation, message=None):
        cmd = " ".join(p.args[7:])
        self.assertNotEqual(p.returncode, 0, f"{cmd} unexpectedly succeeded: {p.stdout}")
        self.assertEqual(p.returncode, self.error_rc, f"{cmd}: exit status\n{p.stderr}")
        want = f"An error occurred ({code}) when calling the {operation} operation"
        self.assertIn(want, p.stderr, cmd)
        if message is not None:
            self.assertIn(f"{want}: {message}", p.stderr, cmd)
        self.assertEqual(p.stdout.strip(), "", cmd)

    def workdir(self):
        return tempfile.mkdtemp(dir=self.tmp)

    @staticmethod
    def write(path, data):
        with open(path, "wb") as f:
            f.write(data)
        return path

    @staticmethod
    def read(path):
        with open(path, "rb") as f:
            return f.read()

    # ---- tests ---------------------------------------------------------------------------
    def test_buckets(self):
        d = self.workdir()
        body = self.write(os.path.join(d, "k.txt"), b"keep me")
        us, eu = self.many(("create-bucket", "--bucket", "cli-us"),
                           ("create-bucket", "--bucket", "cli-eu",
                            "--create-bucket-configuration", "LocationConstraint=eu-west-1"))
        self.assertEqual(self.ok(us)["Location"], "/cli-us")
        self.assertIn("cli-eu", self.ok(eu)["Location"])
        head_us, head_eu, loc_us, loc_eu, listed, missing = self.many(
            ("head-bucket", "--bucket", "cli-us"),
            ("head-bucket", "--bucket", "cli-eu"),
            ("get-bucket-location", "--bucket", "cli-us"),
            ("get-bucket-location", "--bucket", "cli-eu"),
            ("list-buckets",),
            ("head-bucket", "--bucket", "cli-none"))
        head_us, head_eu = self.ok(head_us), self.ok(head_eu)
        if self.major == 1:  # CLI v2.9 has no HeadBucket output shape; v1 reads x-amz-bucket-region
            self.assertEqual(head_us["BucketRegion"], "us-east-1")
            self.assertEqual(head_eu["BucketRegion"], "eu-west-1")
        self.assertIsNone(self.ok(loc_us)["LocationConstraint"])  # us-east-1 is the empty constraint
        self.assertEqual(self.ok(loc_eu)["LocationConstraint"], "eu-west-1")
        buckets = {b["Name"]: b for b in self.ok(listed)["Buckets"] if b["Name"].startswith("cli-")}
        self.assertEqual(sorted(buckets), ["cli-eu", "cli-us"])
        self.assertRegex(buckets["cli-eu"]["CreationDate"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        self.assertAwsError(missing, "404", "HeadBucket", "Not Found")

        put = self.api("put-object", "--bucket", "cli-eu", "--key", "k.txt", "--body", body)
        self.assertEqual(put["ETag"], md5_etag(b"keep me"))
        self.assertIsNone(self.api("delete-object", "--bucket", "cli-eu", "--key", "k.txt"))
        self.assertIsNone(self.api("delete-bucket", "--bucket", "cli-eu"))
        self.assertAwsError(self.run_cli("head-bucket", "--bucket", "cli-eu"), "404", "HeadBucket")

    def test_object_round_trip_metadata_tags_ranges(self):
        d = self.workdir()
        data = rnd(300 * 1024 + 7, 1)
        n = len(data)
        src = self.write(os.path.join(d, "src.bin"), data)
        small = self.write(os.path.join(d, "small.txt"), b"tag me")
        self.api("create-bucket", "--bucket", "objs")
        put, put_small = self.many(
            ("put-object", "--bucket", "objs", "--key", "dir/obj.bin", "--body", src,
             "--metadata", "colour=blue,owner=Team-A", "--content-type", "application/x-tidepool",
             "--tagging", "env=test&team=storage"),
            ("put-object", "--bucket", "objs", "--key", "tags.txt", "--body", small))
        self.assertEqual(self.ok(put)["ETag"], md5_etag(data))
        self.assertEqual(self.ok(put_small)["ETag"], md5_etag(b"tag me"))

        out_full, out_range, out_suffix = (os.path.join(d, x) for x in ("full.bin", "range.bin", "suffix.bin"))
        head, full, rng, suffix, tags, missing, retag = self.many(
            ("head-object", "--bucket", "objs", "--key", "dir/obj.bin"),
            ("get-object", "--bucket", "objs", "--key", "dir/obj.bin", out_full),
            ("get-object", "--bucket", "objs", "--key", "dir/obj.bin", "--range", "bytes=1000-1999", out_range),
            ("get-object", "--bucket", "objs", "--key", "dir/obj.bin", "--range", "bytes=-100", out_suffix),
            ("get-object-tagging", "--bucket", "objs", "--key", "dir/obj.bin"),
            ("get-object", "--bucket", "objs", "--key", "dir/nope.bin", os.path.join(d, "nope.bin")),
            ("put-object-tagging", "--bucket", "objs", "--key", "tags.txt",
             "--tagging", "TagSet=[{Key=stage,Value=two},{Key=a b,Value=c+d}]"))
        head = self.ok(head)
        self.assertEqual(head["ContentLength"], n)
        self.assertEqual(head["ETag"], md5_etag(data))
        self.assertEqual(head["Metadata"], {"colour": "blue", "owner": "Team-A"})
        self.assertEqual(head["ContentType"], "application/x-tidepool")

        full = self.ok(full)
        self.assertEqual(self.read(out_full), data)
        self.assertEqual(full["ContentLength"], n)
        self.assertEqual(full["ETag"], md5_etag(data))
        self.assertEqual(full["Metadata"], {"colour": "blue", "owner": "Team-A"})
        self.assertEqual(full.get("TagCount"), 2)

        rng = self.ok(rng)
        self.assertEqual(rng["ContentRange"], f"bytes 1000-1999/{n}")
        self.assertEqual(rng["ContentLength"], 1000)
        self.assertEqual(self.read(out_range), data[1000:2000])
        suffix = self.ok(suffix)
        self.assertEqual(suffix["ContentRange"], f"bytes {n - 100}-{n - 1}/{n}")
        self.assertEqual(suffix["ContentLength"], 100)
        self.assertEqual(self.read(out_suffix), data[-100:])

        self.assertEqual(sorted((t["Key"], t["Value"]) for t in self.ok(tags)["TagSet"]),
                         [("env", "test"), ("team", "storage")])
        self.assertAwsError(missing, "NoSuchKey", "GetObject", "The specified key does not exist.")
        self.ok(retag)

        # tags replaced (with a space and a '+'), then deleted; the object deleted
        tags, deleted = self.many(("get-object-tagging", "--bucket", "objs", "--key", "tags.txt"),
                                  ("delete-object", "--bucket", "objs", "--key", "dir/obj.bin"))
        self.assertEqual(sorted((t["Key"], t["Value"]) for t in self.ok(tags)["TagSet"]),
                         [("a b", "c+d"), ("stage", "two")])
        self.assertIsNone(self.ok(deleted))
        untag, gone = self.many(("delete-object-tagging", "--bucket", "objs", "--key", "tags.txt"),
                                ("head-object", "--bucket", "objs", "--key", "dir/obj.bin"))
        self.ok(untag)
        self.assertAwsError(gone, "404", "HeadObject", "Not Found")
        self.assertEqual(self.api("get-object-tagging", "--bucket", "objs", "--key", "tags.txt")["TagSet"], [])

    def test_list_objects_v2(self):
        d = self.workdir()
        tree = os.path.join(d, "tree")
        plain = [f"dir{a}/f{b:02d}.txt" for a in range(3) for b in range(10)]
        for k in plain:
            os.makedirs(os.path.join(tree, os.path.dirname(k)), exist_ok=True)
            self.write(os.path.join(tree, k), k.encode())
        odd = ["with space.txt", "plus+sign.txt", "sp ace/a+b c.txt"]
        odd_body = self.write(os.path.join(d, "odd.txt"), b"odd one")
        self.api("create-bucket", "--bucket", "listing")
        # the 30 plain keys in one process; the odd ones through s3api put-object
        seeded = self.many(lambda: self.run_cli("cp", "--recursive", "--only-show-errors", tree, "s3://listing/",
                                                service="s3"),
                           *[("put-object", "--bucket", "listing", "--key", k, "--body", odd_body) for k in odd])
        for p in seeded:
            self.ok(p)
        every = sorted(plain + odd, key=lambda k: k.encode())

        out_plus, out_deep = os.path.join(d, "plus.out"), os.path.join(d, "deep.out")
        full, delim, prefix, sub, page1, got_plus, got_deep = self.many(
            ("list-objects-v2", "--bucket", "listing", "--no-paginate"),  # one request: KeyCount, IsTruncated
            ("list-objects-v2", "--bucket", "listing", "--delimiter", "/", "--no-paginate"),
            ("list-objects-v2", "--bucket", "listing", "--prefix", "dir1/"),
            ("list-objects-v2", "--bucket", "listing", "--prefix", "sp ace/", "--delimiter", "/", "--no-paginate"),
            ("list-objects-v2", "--bucket", "listing", "--max-keys", "5", "--no-paginate"),
            ("get-object", "--bucket", "listing", "--key", "plus+sign.txt", out_plus),
            ("get-object", "--bucket", "listing", "--key", "sp ace/a+b c.txt", out_deep))
        full = self.ok(full)
        self.assertEqual([o["Key"] for o in full["Contents"]], every)
        self.assertEqual(full["KeyCount"], len(every))
        self.assertFalse(full["IsTruncated"])
        sizes = {o["Key"]: o["Size"] for o in full["Contents"]}
        self.assertEqual(sizes["dir2/f09.txt"], len(b"dir2/f09.txt"))
        self.assertEqual(sizes["sp ace/a+b c.txt"], len(b"odd one"))
        self.assertEqual({o["ETag"] for o in full["Contents"] if o["Key"] in odd}, {md5_etag(b"odd one")})

        delim = self.ok(delim)
        self.assertEqual([p["Prefix"] for p in delim["CommonPrefixes"]], ["dir0/", "dir1/", "dir2/", "sp ace/"])
        self.assertEqual([o["Key"] for o in delim["Contents"]], ["plus+sign.txt", "with space.txt"])
        self.assertEqual(delim["KeyCount"], 6)
        self.assertEqual([o["Key"] for o in self.ok(prefix)["Contents"]], [f"dir1/f{b:02d}.txt" for b in range(10)])
        sub = self.ok(sub)
        self.assertEqual([o["Key"] for o in sub["Contents"]], ["sp ace/a+b c.txt"])
        self.assertEqual((sub["Prefix"], sub["Delimiter"], sub["KeyCount"]), ("sp ace/", "/", 1))
        self.assertNotIn("CommonPrefixes", sub)

        # server-side paging: MaxKeys and ContinuationToken, one request each
        page1 = self.ok(page1)
        self.assertTrue(page1["IsTruncated"])
        self.assertEqual((page1["KeyCount"], page1["MaxKeys"]), (5, 5))
        self.assertEqual([o["Key"] for o in page1["Contents"]], every[:5])
        page2 = self.api("list-objects-v2", "--bucket", "listing", "--max-keys", "5", "--no-paginate",
                         "--continuation-token", page1["NextContinuationToken"])
        self.assertEqual([o["Key"] for o in page2["Contents"]], every[5:10])
        self.assertEqual(page2["ContinuationToken"], page1["NextContinuationToken"])

        # CLI-side paging: --max-items over pages of --page-size, resumed with --starting-token
        chunks, token = [], None
        for _ in range(10):
            args = ["list-objects-v2", "--bucket", "listing", "--max-items", "12", "--page-size", "5"]
            resp = self.api(*args, *(["--starting-token", token] if token else []))
            chunks.append([o["Key"] for o in resp.get("Contents", [])])
            token = resp.get("NextToken")
            if not token:
                break
        self.assertEqual([len(c) for c in chunks], [12, 12, len(every) - 24])
        self.assertEqual(sum(chunks, []), every)

        self.ok(got_plus)
        self.ok(got_deep)
        self.assertEqual((self.read(out_plus), self.read(out_deep)), (b"odd one", b"odd one"))

    def test_copy_object(self):
        d = self.workdir()
        data = rnd(64 * 1024 + 3, 3)
        src = self.write(os.path.join(d, "src.bin"), data)
        for p in self.many(("create-bucket", "--bucket", "copy-src"), ("create-bucket", "--bucket", "copy-dst")):
            self.ok(p)
        key = "orig/with space+plus.bin"
        self.api("put-object", "--bucket", "copy-src", "--key", key, "--body", src,
                 "--metadata", "colour=red", "--content-type", "text/x-src")
        kept, replaced = self.many(
            ("copy-object", "--bucket", "copy-dst", "--key", "copy-1", "--copy-source", f"copy-src/{key}"),
            ("copy-object", "--bucket", "copy-dst", "--key", "copy-2", "--copy-source", f"copy-src/{key}",
             "--metadata-directive", "REPLACE", "--metadata", "colour=green,shape=round",
             "--content-type", "text/x-new"))
        kept, replaced = self.ok(kept), self.ok(replaced)
        self.assertEqual(kept["CopyObjectResult"]["ETag"], md5_etag(data))
        self.assertRegex(kept["CopyObjectResult"]["LastModified"], r"^\d{4}-\d\d-\d\dT")
        self.assertEqual(replaced["CopyObjectResult"]["ETag"], md5_etag(data))

        out = os.path.join(d, "copy-2.bin")
        head1, head2, got = self.many(
            ("head-object", "--bucket", "copy-dst", "--key", "copy-1"),
            ("head-object", "--bucket", "copy-dst", "--key", "copy-2"),
            ("get-object", "--bucket", "copy-dst", "--key", "copy-2", out))
        head1, head2 = self.ok(head1), self.ok(head2)
        self.assertEqual(head1["Metadata"], {"colour": "red"})
        self.assertEqual(head1["ContentType"], "text/x-src")
        self.assertEqual(head1["ContentLength"], len(data))
        self.assertEqual(head2["Metadata"], {"colour": "green", "shape": "round"})
        self.assertEqual(head2["ContentType"], "text/x-new")
        self.assertEqual(head2["ETag"], md5_etag(data))
        self.assertEqual(self.ok(got)["ContentLength"], len(data))
        self.assertEqual(self.read(out), data)

    def test_delete_objects(self):
        d = self.workdir()
        body = self.write(os.path.join(d, "x"), b"x")
        self.api("create-bucket", "--bucket", "dels")
        for p in self.many(*[("put-object", "--bucket", "dels", "--key", k, "--body", body)
                             for k in ("a", "b", "c", "d e")]):
            self.ok(p)
        r = self.api("delete-objects", "--bucket", "dels", "--delete", "Objects=[{Key=a},{Key=b}]")
        self.assertEqual(sorted(x["Key"] for x in r["Deleted"]), ["a", "b"])
        self.assertNotIn("Errors", r)
        r = self.api("delete-objects", "--bucket", "dels", "--delete",
                     json.dumps({"Objects": [{"Key": "d e"}, {"Key": "never-there"}]}))
        self.assertEqual(sorted(x["Key"] for x in r["Deleted"]), ["d e", "never-there"])
        r = self.api("delete-objects", "--bucket", "dels", "--delete",
                     json.dumps({"Objects": [{"Key": "c"}], "Quiet": True}))
        self.assertEqual((r or {}).get("Deleted", []), [])
        left = self.api("list-objects-v2", "--bucket", "dels", "--no-paginate")
        self.assertEqual(left["KeyCount"], 0)
        self.assertNotIn("Contents", left)

    def test_multipart_by_hand(self):
        d = self.workdir()
        part1, part2 = rnd(5 * MIB + 1234, 11), rnd(100 * 1024 + 5, 12)
        f1, f2 = self.write(os.path.join(d, "p1"), part1), self.write(os.path.join(d, "p2"), part2)
        self.api("create-bucket", "--bucket", "multi")
        up, other = self.many(
            ("create-multipart-upload", "--bucket", "multi", "--key", "big.bin",
             "--content-type", "application/x-big", "--metadata", "origin=cli"),
            ("create-multipart-upload", "--bucket", "multi", "--key", "aborted.bin"))
        up, other = self.ok(up), self.ok(other)
        self.assertEqual((up["Bucket"], up["Key"]), ("multi", "big.bin"))
        uid, uid2 = up["UploadId"], other["UploadId"]
        self.assertTrue(uid)
        self.assertNotEqual(uid, uid2)

        r1, r2, r3 = self.many(
            ("upload-part", "--bucket", "multi", "--key", "big.bin", "--upload-id", uid, "--part-number", "1",
             "--body", f1),
            ("upload-part", "--bucket", "multi", "--key", "big.bin", "--upload-id", uid, "--part-number", "2",
             "--body", f2),
            ("upload-part", "--bucket", "multi", "--key", "aborted.bin", "--upload-id", uid2, "--part-number", "1",
             "--body", f2))
        e1, e2 = self.ok(r1)["ETag"], self.ok(r2)["ETag"]
        self.assertEqual((e1, e2), (md5_etag(part1), md5_etag(part2)))
        self.ok(r3)

        parts, uploads = self.many(("list-parts", "--bucket", "multi", "--key", "big.bin", "--upload-id", uid),
                                   ("list-multipart-uploads", "--bucket", "multi"))
        parts = self.ok(parts)["Parts"]
        self.assertEqual([(p["PartNumber"], p["Size"], p["ETag"]) for p in parts],
                         [(1, len(part1), e1), (2, len(part2), e2)])
        uploads = self.ok(uploads)["Uploads"]
        self.assertEqual(sorted((u["Key"], u["UploadId"]) for u in uploads), [("aborted.bin", uid2), ("big.bin", uid)])

        parts_json = os.path.join(d, "parts.json")
        with open(parts_json, "w") as f:
            json.dump({"Parts": [{"ETag": e1, "PartNumber": 1}, {"ETag": e2, "PartNumber": 2}]}, f)
        done = self.api("complete-multipart-upload", "--bucket", "multi", "--key", "big.bin", "--upload-id", uid,
                        "--multipart-upload", "file://" + parts_json)
        self.assertEqual((done["Bucket"], done["Key"]), ("multi", "big.bin"))
        self.assertTrue(done["ETag"].endswith('-2"'), done["ETag"])
        self.assertEqual(done["ETag"], multipart_etag([part1, part2]))

        out = os.path.join(d, "big.out")
        got, aborted = self.many(
            ("get-object", "--bucket", "multi", "--key", "big.bin", out),
            ("abort-multipart-upload", "--bucket", "multi", "--key", "aborted.bin", "--upload-id", uid2))
        got = self.ok(got)
        self.assertEqual(self.read(out), part1 + part2)
        self.assertEqual(got["ContentLength"], len(part1) + len(part2))
        self.assertEqual(got["ETag"], done["ETag"])
        self.assertEqual(got["ContentType"], "application/x-big")
        self.assertEqual(got["Metadata"], {"origin": "cli"})
        self.ok(aborted)

        left, gone = self.many(
            ("list-multipart-uploads", "--bucket", "multi", "--no-paginate"),
            ("list-parts", "--bucket", "multi", "--key", "aborted.bin", "--upload-id", uid2))
        left = self.ok(left)
        self.assertEqual(left.get("Uploads", []), [])
        self.assertFalse(left["IsTruncated"])
        self.assertAwsError(gone, "NoSuchUpload", "ListParts")

    def test_errors(self):
        d = self.workdir()
        body = self.write(os.path.join(d, "x"), b"x")
        self.api("create-bucket", "--bucket", "errs")
        self.api("put-object", "--bucket", "errs", "--key", "present", "--body", body)
        missing, not_empty, bad_name, no_bucket = self.many(
            ("get-object", "--bucket", "errs", "--key", "absent", os.path.join(d, "absent.out")),
            ("delete-bucket", "--bucket", "errs"),
            ("create-bucket", "--bucket", "Bad_Name"),
            ("list-objects-v2", "--bucket", "no-such-bucket"))
        self.assertAwsError(missing, "NoSuchKey", "GetObject", "The specified key does not exist.")
        self.assertAwsError(not_empty, "BucketNotEmpty", "DeleteBucket")
        self.assertAwsError(bad_name, "InvalidBucketName", "CreateBucket")
        self.assertAwsError(no_bucket, "NoSuchBucket", "ListObjectsV2", "The specified bucket does not exist")
        # the failed calls changed nothing
        names = [b["Name"] for b in self.api("list-buckets")["Buckets"]]
        self.assertIn("errs", names)
        self.assertNotIn("Bad_Name", names)
        self.assertNotIn("bad_name", names)


@unittest.skipUnless(cli_major(CLI_V1) == 1, f"AWS CLI v1 not found (looked at {CLI_V1})")
class S3ApiCliV1Test(S3ApiCliMixin, ServerTestCase):
    cli = CLI_V1
    major = 1
    error_rc = 255


@unittest.skipUnless(cli_major(CLI_V2) == 2, f"AWS CLI v2 not found (looked at {CLI_V2})")
class S3ApiCliV2Test(S3ApiCliMixin, ServerTestCase):
    cli = CLI_V2
    major = 2
    error_rc = 254


if __name__ == "__main__":
    main()
