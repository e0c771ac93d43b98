"""S3 through boto3 and the AWS CLI v1 and v2: buckets, objects up and down byte-identical
(streamed, with the checksums current SDKs send by default), multipart uploads, copies,
DeleteObjects, tags, listings with delimiters and URL-encoded odd keys, ranges, conditionals,
and AWS's XML errors."""

import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from botocore.exceptions import ClientError  # noqa: E402

import harness  # noqa: E402
from harness import ServerTestCase, main  # noqa: E402
from test_cli import CLI_V1, CLI_V2, cli_major  # noqa: E402


def rnd(n, seed):
    return random.Random(seed).randbytes(n)


class S3Boto3Test(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s3 = cls.server.client("s3")

    def assertS3Error(self, ctx, code, status):
        err = ctx.exception.response
        self.assertEqual(err["Error"]["Code"], code, err)
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], status, err)

    def test_buckets(self):
        s3 = self.s3
        s3.create_bucket(Bucket="b-one")
        s3.create_bucket(Bucket="b-two", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        self.assertIn("b-one", names)
        self.assertIn("b-two", names)
        self.assertIsNone(s3.get_bucket_location(Bucket="b-one")["LocationConstraint"])
        self.assertEqual(s3.get_bucket_location(Bucket="b-two")["LocationConstraint"], "eu-west-1")
        head = s3.head_bucket(Bucket="b-two")
        self.assertEqual(head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"], "eu-west-1")
        with self.assertRaises(ClientError) as e:
            s3.create_bucket(Bucket="b-one")
        self.assertS3Error(e, "BucketAlreadyOwnedByYou", 409)
        with self.assertRaises(ClientError) as e:
            s3.create_bucket(Bucket="Bad_Name")
        self.assertS3Error(e, "InvalidBucketName", 400)
        with self.assertRaises(ClientError) as e:
            s3.head_bucket(Bucket="no-such-bucket")
        self.assertEqual(e.exception.response["Error"]["Code"], "404")
        s3.put_object(Bucket="b-two", Key="k", Body=b"x")
        with self.assertRaises(ClientError) as e:
            s3.delete_bucket(Bucket="b-two")
        self.assertS3Error(e, "BucketNotEmpty", 409)
        s3.delete_object(Bucket="b-two", Key="k")
        s3.delete_bucket(Bucket="b-two")
        with self.assertRaises(ClientError) as e:
            s3.list_objects_v2(Bucket="b-two")
        self.assertS3Error(e, "NoSuchBucket", 404)

    def test_objects_round_trip_with_metadata_and_checksums(self):
        s3 = self.s3
        s3.create_bucket(Bucket="objs")
        for size in (0, 1, 1024 * 1024 - 1, 1024 * 1024, 3 * 1024 * 1024 + 17, 20 * 1024 * 1024):
            with self.subTest(size=size):
                data = rnd(size, size)
                put = s3.put_object(Bucket="objs", Key=f"obj-{size}", Body=data, ContentType="application/x-test",
                                    Metadata={"colour": "blue"}, ContentDisposition="attachment")
                self.assertEqual(put["ETag"], '"%s"' % hashlib.md5(data).hexdigest())
                got = s3.get_object(Bucket="objs", Key=f"obj-{size}", ChecksumMode="ENABLED")
                self.assertEqual(got["Body"].read(), data)
                self.assertEqual(got["ContentLength"], size)
                self.assertEqual(got["ContentType"], "application/x-test")
                self.assertEqual(got["ContentDisposition"], "attachment")
                self.assertEqual(got["Metadata"], {"colour": "blue"})
                self.assertEqual(got["ETag"], put["ETag"])
                head = s3.head_object(Bucket="objs", Key=f"obj-{size}")
                self.assertEqual(head["ContentLength"], size)
                self.assertEqual(head["LastModified"].microsecond, 0)  # whole seconds, as S3
        # a wrong Content-MD5 is refused and stores nothing
        with self.assertRaises(ClientError) as e:
            s3.put_object(Bucket="objs", Key="bad-md5", Body=b"abc", ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")
        self.assertS3Error(e, "BadDigest", 400)
        with self.assertRaises(ClientError) as e:
            s3.head_object(Bucket="objs", Key="bad-md5")
        self.assertEqual(e.exception.response["Error"]["Code"], "404")
        # overwrite: the new bytes, never a mix
        s3.put_object(Bucket="objs", Key="obj-1", Body=b"new")
        self.assertEqual(s3.get_object(Bucket="objs", Key="obj-1")["Body"].read(), b"new")
        s3.delete_object(Bucket="objs", Key="obj-1")
        s3.delete_object(Bucket="objs", Key="never-existed")  # 204 all the same
        with self.assertRaises(ClientError) as e:
            s3.get_object(Bucket="objs", Key="obj-1")
        self.assertS3Error(e, "NoSuchKey", 404)

    def test_ranges_and_conditionals(self):
        s3 = self.s3
        s3.create_bucket(Bucket="ranges")
        data = rnd(5 * 1024 * 1024 + 3, 7)
        etag = s3.put_object(Bucket="ranges", Key="r", Body=data)["ETag"]
        for rng, want, content_range in (("bytes=0-9", data[:10], f"bytes 0-9/{len(data)}"),
                                         ("bytes=1048570-1048580", data[1048570:1048581], None),
                                         ("bytes=-5", data[-5:], None),
                                         ("bytes=5242880-", data[5242880:], None),
                                         ("bytes=10-99999999", data[10:], None)):
            with self.subTest(rng=rng):
                got = s3.get_object(Bucket="ranges", Key="r", Range=rng)
                self.assertEqual(got["ResponseMetadata"]["HTTPStatusCode"], 206)
                self.assertEqual(got["Body"].read(), want)
                if content_range:
                    self.assertEqual(got["ContentRange"], content_range)
        with self.assertRaises(ClientError) as e:
            s3.get_object(Bucket="ranges", Key="r", Range=f"bytes={len(data)}-")
        self.assertS3Error(e, "InvalidRange", 416)
        self.assertEqual(s3.get_object(Bucket="ranges", Key="r", IfMatch=etag)["Body"].read(), data)
        with self.assertRaises(ClientError) as e:
            s3.get_object(Bucket="ranges", Key="r", IfMatch='"0123"')
        self.assertS3Error(e, "PreconditionFailed", 412)
        with self.assertRaises(ClientError) as e:
            s3.get_object(Bucket="ranges", Key="r", IfNoneMatch=etag)
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 304)
        later = s3.head_object(Bucket="ranges", Key="r")["LastModified"]
        with self.assertRaises(ClientError) as e:
            s3.get_object(Bucket="ranges", Key="r", IfModifiedSince=later)
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 304)
        got = s3.get_object(Bucket="ranges", Key="r", ResponseContentType="text/plain",
                            ResponseCacheControl="no-store")
        self.assertEqual((got["ContentType"], got["CacheControl"]), ("text/plain", "no-store"))

    def test_listing_with_delimiter_and_odd_keys(self):
        s3 = self.s3
        s3.create_bucket(Bucket="listing")
        keys = [f"dir{d}/file{f:03d}" for d in range(3) for f in range(100)]
        odd = ["with space", "plus+sign", "percent%41", "unicodé/ключ", "a&b<c>", "top"]
        for k in keys + odd:
            s3.put_object(Bucket="listing", Key=k, Body=k.encode())
        # every key, in byte order, over pages of 70
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket="listing", PaginationConfig={"PageSize": 70})
        listed = [o["Key"] for p in pages for o in p.get("Contents", [])]
        self.assertEqual(listed, sorted(keys + odd, key=lambda k: k.encode()))
        for k in odd:
            self.assertEqual(s3.get_object(Bucket="listing", Key=k)["Body"].read(), k.encode())
        # delimiter: folders fold into common prefixes, each counted once
        r = s3.list_objects_v2(Bucket="listing", Delimiter="/")
        self.assertEqual([p["Prefix"] for p in r["CommonPrefixes"]], ["dir0/", "dir1/", "dir2/", "unicodé/"])
        self.assertEqual(sorted(o["Key"] for o in r["Contents"]), sorted(["with space", "plus+sign", "percent%41",
                                                                        "a&b<c>", "top"]))
        self.assertEqual(r["KeyCount"], 9)
        # prefix + delimiter + small pages
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket="listing", Prefix="dir1/", Delimiter="/",
                                                             PaginationConfig={"PageSize": 30})
        got = [o["Key"] for p in pages for o in p.get("Contents", [])]
        self.assertEqual(got, [f"dir1/file{f:03d}" for f in range(100)])
        # pages of common prefixes
        r1 = s3.list_objects_v2(Bucket="listing", Delimiter="/", MaxKeys=2)
        self.assertTrue(r1["IsTruncated"])
        self.assertEqual([o["Key"] for o in r1["Contents"]], ["a&b<c>"])  # byte order: '&' < 'd'
        self.assertEqual([p["Prefix"] for p in r1["CommonPrefixes"]], ["dir0/"])
        r2 = s3.list_objects_v2(Bucket="listing", Delimiter="/", MaxKeys=1000,
                                ContinuationToken=r1["NextContinuationToken"])
        firsts = [o["Key"] for o in r1.get("Contents", [])] + [p["Prefix"] for p in r1.get("CommonPrefixes", [])]
        rests = [o["Key"] for o in r2.get("Contents", [])] + [p["Prefix"] for p in r2.get("CommonPrefixes", [])]
        self.assertEqual(len(firsts), 2)
        self.assertEqual(len(set(firsts) | set(rests)), 9)
        self.assertFalse(set(firsts) & set(rests))
        # v1 with marker
        v1 = s3.list_objects(Bucket="listing", Prefix="dir2/", Marker="dir2/file097")
        self.assertEqual([o["Key"] for o in v1["Contents"]], ["dir2/file098", "dir2/file099"])
        # start-after
        sa = s3.list_objects_v2(Bucket="listing", StartAfter="dir0/file098", MaxKeys=3)
        self.assertEqual([o["Key"] for o in sa["Contents"]], ["dir0/file099", "dir1/file000", "dir1/file001"])

    def test_upload_ids_are_safe_on_a_command_line(self):
        """URL-safe, and never starting with '-': the AWS CLI takes `--upload-id -x…` for an option."""
        s3 = self.s3
        s3.create_bucket(Bucket="ids")
        ids = [s3.create_multipart_upload(Bucket="ids", Key=f"k{i}")["UploadId"] for i in range(300)]
        self.assertEqual(len(set(ids)), len(ids))
        for uid in ids:
            self.assertRegex(uid, r"^[A-Za-z0-9._][A-Za-z0-9._-]*$")

    def test_multipart(self):
        from boto3.s3.transfer import TransferConfig
        s3 = self.s3
        s3.create_bucket(Bucket="multi")
        mib = 1024 * 1024
        data = rnd(23 * mib + 5, 23)
        src = os.path.join(self.server.tmp_root, "src.bin")
        with open(src, "wb") as f:
            f.write(data)
        cfg = TransferConfig(multipart_threshold=5 * mib, multipart_chunksize=5 * mib, max_concurrency=4)
        s3.upload_file(src, "multi", "big.bin", Config=cfg)
        head = s3.head_object(Bucket="multi", Key="big.bin", ChecksumMode="ENABLED")
        self.assertEqual(head["ContentLength"], len(data))
        md5s = b"".join(hashlib.md5(data[i:i + 5 * mib]).digest() for i in range(0, len(data), 5 * mib))
        self.assertEqual(head["ETag"], '"%s-5"' % hashlib.md5(md5s).hexdigest())
        dst = os.path.join(self.server.tmp_root, "dst.bin")
        s3.download_file("multi", "big.bin", dst, Config=cfg)  # concurrent ranged GETs with If-Match
        with open(dst, "rb") as f:
            self.assertEqual(f.read(), data)
        # a part, by number
        part = s3.get_object(Bucket="multi", Key="big.bin", PartNumber=2)
        self.assertEqual(part["Body"].read(), data[5 * mib:10 * mib])
        self.assertEqual(part["PartsCount"], 5)

        # by hand: re-upload, list, the errors, abort
        up = s3.create_multipart_upload(Bucket="multi", Key="manual", ChecksumAlgorithm="CRC32")
        uid = up["UploadId"]
        p1 = s3.upload_part(Bucket="multi", Key="manual", UploadId=uid, PartNumber=1, Body=data[:5 * mib],
                            ChecksumAlgorithm="CRC32")
        s3.upload_part(Bucket="multi", Key="manual", UploadId=uid, PartNumber=2, Body=b"first try",
                       ChecksumAlgorithm="CRC32")
        p2 = s3.upload_part(Bucket="multi", Key="manual", UploadId=uid, PartNumber=2, Body=b"tail",
                            ChecksumAlgorithm="CRC32")
        parts = s3.list_parts(Bucket="multi", Key="manual", UploadId=uid)["Parts"]
        self.assertEqual([(p["PartNumber"], p["Size"]) for p in parts], [(1, 5 * mib), (2, 4)])
        self.assertEqual([u["UploadId"] for u in s3.list_multipart_uploads(Bucket="multi")["Uploads"]], [uid])
        done1 = {"PartNumber": 1, "ETag": p1["ETag"], "ChecksumCRC32": p1["ChecksumCRC32"]}
        done2 = {"PartNumber": 2, "ETag": p2["ETag"], "ChecksumCRC32": p2["ChecksumCRC32"]}
        for parts_list, code in (([done2, done1], "InvalidPartOrder"),
                                 ([done1, dict(done2, ETag='"00000000000000000000000000000000"')], "InvalidPart"),
                                 ([done1, dict(done2, PartNumber=3)], "InvalidPart")):
            with self.subTest(code=code), self.assertRaises(ClientError) as e:
                s3.complete_multipart_upload(Bucket="multi", Key="manual", UploadId=uid,
                                             MultipartUpload={"Parts": parts_list})
            self.assertS3Error(e, code, 400)
        done = s3.complete_multipart_upload(Bucket="multi", Key="manual", UploadId=uid,
                                            MultipartUpload={"Parts": [done1, done2]})
        self.assertTrue(done["ETag"].endswith('-2"'))
        self.assertTrue(done["ChecksumCRC32"].endswith("-2"))
        self.assertEqual(s3.get_object(Bucket="multi", Key="manual")["Body"].read(), data[:5 * mib] + b"tail")
        with self.assertRaises(ClientError) as e:
            s3.complete_multipart_upload(Bucket="multi", Key="manual", UploadId=uid,
                                         MultipartUpload={"Parts": [done1, done2]})
        self.assertS3Error(e, "NoSuchUpload", 404)
        # parts smaller than 5 MiB, except the last, are refused
        small = s3.create_multipart_upload(Bucket="multi", Key="small")["UploadId"]
        e1 = s3.upload_part(Bucket="multi", Key="small", UploadId=small, PartNumber=1, Body=b"a" * 100)["ETag"]
        e2 = s3.upload_part(Bucket="multi", Key="small", UploadId=small, PartNumber=2, Body=b"b")["ETag"]
        with self.assertRaises(ClientError) as e:
            s3.complete_multipart_upload(Bucket="multi", Key="small", UploadId=small, MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
        self.assertS3Error(e, "EntityTooSmall", 400)
        s3.abort_multipart_upload(Bucket="multi", Key="small", UploadId=small)
        with self.assertRaises(ClientError) as e:
            s3.upload_part(Bucket="multi", Key="small", UploadId=small, PartNumber=3, Body=b"x")
        self.assertS3Error(e, "NoSuchUpload", 404)
        self.assertEqual(s3.list_multipart_uploads(Bucket="multi").get("Uploads", []), [])

    def test_copy_delete_objects_and_tags(self):
        s3 = self.s3
        s3.create_bucket(Bucket="copies")
        s3.create_bucket(Bucket="copies2")
        data = rnd(3 * 1024 * 1024 + 1, 3)
        put = s3.put_object(Bucket="copies", Key="src key+", Body=data, ContentType="text/x-src",
                            Metadata={"m": "1"}, Tagging="team=data&stage=raw")
        # COPY keeps metadata and tags; same bytes, same ETag
        r = s3.copy_object(Bucket="copies2", Key="dst", CopySource={"Bucket": "copies", "Key": "src key+"})
        self.assertEqual(r["CopyObjectResult"]["ETag"], put["ETag"])
        got = s3.get_object(Bucket="copies2", Key="dst")
        self.assertEqual(got["Body"].read(), data)
        self.assertEqual((got["ContentType"], got["Metadata"], got["TagCount"]), ("text/x-src", {"m": "1"}, 2))
        # REPLACE takes this request's metadata; copying onto itself needs it
        with self.assertRaises(ClientError) as e:
            s3.copy_object(Bucket="copies", Key="src key+", CopySource={"Bucket": "copies", "Key": "src key+"})
        self.assertS3Error(e, "InvalidRequest", 400)
        s3.copy_object(Bucket="copies", Key="src key+", CopySource={"Bucket": "copies", "Key": "src key+"},
                       MetadataDirective="REPLACE", ContentType="text/x-new", Metadata={"m": "2"})
        head = s3.head_object(Bucket="copies", Key="src key+")
        self.assertEqual((head["ContentType"], head["Metadata"]), ("text/x-new", {"m": "2"}))
        # conditions on the source
        with self.assertRaises(ClientError) as e:
            s3.copy_object(Bucket="copies2", Key="x", CopySource={"Bucket": "copies", "Key": "src key+"},
                           CopySourceIfMatch='"0000"')
        self.assertS3Error(e, "PreconditionFailed", 412)
        with self.assertRaises(ClientError) as e:
            s3.copy_object(Bucket="copies2", Key="x", CopySource={"Bucket": "copies", "Key": "missing"})
        self.assertS3Error(e, "NoSuchKey", 404)
        # deleting the source leaves the copy whole (shared bytes are reference-counted)
        s3.delete_object(Bucket="copies", Key="src key+")
        self.assertEqual(s3.get_object(Bucket="copies2", Key="dst")["Body"].read(), data)
        # UploadPartCopy with ranges
        uid = s3.create_multipart_upload(Bucket="copies", Key="assembled")["UploadId"]
        mib = 1024 * 1024
        p1 = s3.upload_part_copy(Bucket="copies", Key="assembled", UploadId=uid, PartNumber=1,
                                 CopySource={"Bucket": "copies2", "Key": "dst"}, CopySourceRange=f"bytes=0-{5 * mib - 1}"
                                 if len(data) > 5 * mib else f"bytes=1-{len(data) - 1}")
        p2 = s3.upload_part_copy(Bucket="copies", Key="assembled", UploadId=uid, PartNumber=2,
                                 CopySource={"Bucket": "copies2", "Key": "dst"}, CopySourceRange="bytes=0-9")
        with self.assertRaises(ClientError) as e:
            s3.complete_multipart_upload(Bucket="copies", Key="assembled", UploadId=uid, MultipartUpload={"Parts": [
                {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
                {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
        self.assertS3Error(e, "EntityTooSmall", 400)  # part 1 is 3 MiB
        s3.abort_multipart_upload(Bucket="copies", Key="assembled", UploadId=uid)
        # tags
        self.assertEqual(s3.get_object_tagging(Bucket="copies2", Key="dst")["TagSet"],
                         [{"Key": "team", "Value": "data"}, {"Key": "stage", "Value": "raw"}])
        s3.put_object_tagging(Bucket="copies2", Key="dst", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
        self.assertEqual(s3.get_object_tagging(Bucket="copies2", Key="dst")["TagSet"], [{"Key": "k", "Value": "v"}])
        with self.assertRaises(ClientError) as e:
            s3.put_object_tagging(Bucket="copies2", Key="dst", Tagging={"TagSet": [
                {"Key": f"k{i}", "Value": "v"} for i in range(11)]})
        self.assertS3Error(e, "InvalidTag", 400)
        s3.delete_object_tagging(Bucket="copies2", Key="dst")
        self.assertEqual(s3.get_object_tagging(Bucket="copies2", Key="dst")["TagSet"], [])
        # DeleteObjects, loud and quiet; absent keys count as deleted
        for i in range(5):
            s3.put_object(Bucket="copies2", Key=f"d/{i}", Body=b"x")
        r = s3.delete_objects(Bucket="copies2", Delete={"Objects": [{"Key": "d/0"}, {"Key": "d/1"}, {"Key": "nope"}]})
        self.assertEqual(sorted(d["Key"] for d in r["Deleted"]), ["d/0", "d/1", "nope"])
        r = s3.delete_objects(Bucket="copies2", Delete={"Objects": [{"Key": "d/2"}], "Quiet": True})
        self.assertEqual(r.get("Deleted", []), [])
        left = [o["Key"] for o in s3.list_objects_v2(Bucket="copies2", Prefix="d/")["Contents"]]
        self.assertEqual(left, ["d/3", "d/4"])

    def test_raw_errors_are_aws_xml(self):
        r = self.server.s3_raw("GET", "/no-such-bucket-here?list-type=2")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.header("Content-Type"), "application/xml")
        err = ET.fromstring(r.body)
        self.assertEqual(err.tag, "Error")
        self.assertEqual(err.findtext("Code"), "NoSuchBucket")
        self.assertEqual(err.findtext("Message"), "The specified bucket does not exist")
        self.assertEqual(err.findtext("BucketName"), "no-such-bucket-here")
        self.assertTrue(err.findtext("RequestId"))
        self.assertTrue(r.header("x-amz-request-id"))
        r = self.server.s3_raw("PUT", "/xmlbucket", body=b"<CreateBucketConfiguration><Loc")
        self.assertEqual(ET.fromstring(r.body).findtext("Code"), "MalformedXML")
        r = self.server.s3_raw("PATCH", "/xmlbucket")
        self.assertEqual((r.status, ET.fromstring(r.body).findtext("Code")), (405, "MethodNotAllowed"))
        # virtual-hosted addressing through the Host header
        self.s3.create_bucket(Bucket="vhost")
        self.s3.put_object(Bucket="vhost", Key="a/b.txt", Body=b"hello")
        for host in ("vhost.localhost", "vhost.s3.amazonaws.com", "vhost.s3.eu-west-1.amazonaws.com"):
            with self.subTest(host=host):
                r = harness.s3_raw_request(self.server.port, "GET", "/a/b.txt", headers={"Host": host})
                self.assertEqual((r.status, r.body), (200, b"hello"))
        self.assertTrue(self.server.alive())


class S3DomainTest(ServerTestCase):
    """--s3-domain adds base domains for virtual-hosted addressing (hosts files, Docker aliases)."""

    server_args = ("--s3-domain", "s3.tidepool.test", "--s3-domain", "Example.Org")

    def test_extra_domains(self):
        s3 = self.server.client("s3")
        s3.create_bucket(Bucket="dom")
        s3.put_object(Bucket="dom", Key="k/v.txt", Body=b"domain")
        for host in ("dom.s3.tidepool.test", "dom.s3.tidepool.test:4566", "DOM.example.org"):
            with self.subTest(host=host):
                r = harness.s3_raw_request(self.server.port, "GET", "/k/v.txt", headers={"Host": host})
                self.assertEqual((r.status, r.body), (200, b"domain"))
        # the bare domain is path-style
        r = harness.s3_raw_request(self.server.port, "GET", "/dom/k/v.txt", headers={"Host": "s3.tidepool.test"})
        self.assertEqual((r.status, r.body), (200, b"domain"))
        # an unknown domain is path-style too: /k is then a bucket that does not exist
        r = harness.s3_raw_request(self.server.port, "GET", "/k/v.txt", headers={"Host": "dom.elsewhere.test"})
        self.assertEqual(r.status, 404)


class S3CliMixin:
    cli = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = harness.isolated_aws_env(temp_home=True)
        cls.tmp = tempfile.mkdtemp(prefix="tidepool-s3cli-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)

    def aws(self, *args, timeout=180):
        cmd = [self.cli, "--endpoint-url", self.server.endpoint, "--region", "us-east-1", *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env, cwd=self.tmp)
        self.assertEqual(p.returncode, 0, f"{' '.join(args)} failed rc={p.returncode}\n{p.stdout}\n{p.stderr}")
        return p.stdout

    def test_mb_cp_ls_sync_rm_rb(self):
        src = os.path.join(self.tmp, "src")
        os.makedirs(os.path.join(src, "sub"))
        files = {"a.bin": rnd(7 * 1024 * 1024, 1), "sub/b.txt": b"hello\n", "sub/c d.txt": b"spaced\n",
                 "big.bin": rnd(50 * 1024 * 1024, 2)}  # 50 MiB: multipart both ways
        for name, data in files.items():
            with open(os.path.join(src, name), "wb") as f:
                f.write(data)
        self.aws("s3", "mb", "s3://cli-bucket")
        self.aws("s3", "cp", os.path.join(src, "a.bin"), "s3://cli-bucket/a.bin")
        self.aws("s3", "sync", src, "s3://cli-bucket/tree")
        out = self.aws("s3", "ls", "--recursive", "s3://cli-bucket")
        for name in files:
            self.assertIn(f"tree/{name}", out)
        self.assertEqual(self.aws("s3", "sync", src, "s3://cli-bucket/tree").strip(), "")  # nothing to do
        dst = os.path.join(self.tmp, "dst")
        self.aws("s3", "cp", "--recursive", "s3://cli-bucket/tree", dst)
        for name, data in files.items():
            with open(os.path.join(dst, name), "rb") as f:
                self.assertEqual(f.read(), data, name)
        self.aws("s3", "rm", "--recursive", "s3://cli-bucket")
        self.assertEqual(self.aws("s3", "ls", "s3://cli-bucket").strip(), "")
        self.aws("s3", "rb", "s3://cli-bucket")


@unittest.skipUnless(cli_major(CLI_V1) == 1, "AWS CLI v1 not found")
class S3CliV1Test(S3CliMixin, ServerTestCase):
    cli = CLI_V1


@unittest.skipUnless(cli_major(CLI_V2) == 2, "AWS CLI v2 not found")
class S3CliV2Test(S3CliMixin, ServerTestCase):
    cli = CLI_V2


if __name__ == "__main__":
    main()
