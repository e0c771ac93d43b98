#!/usr/bin/env python3
"""Amazon Data Firehose through boto3 against a real tidepool process: the control plane
(Create/Describe/List/Delete/UpdateDestination, tags, encryption), the errors AWS answers, and
delivery to S3 without a Lambda processor (key layout, compression formats, FileExtension,
CustomTimeZone, versions, the /_tidepool/firehose counters).

The Lambda processor, Kinesis sources, KPL de-aggregation and kill -9 are in
test_firehose_engine.py.

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_firehose.py
"""

import datetime
import json
import os
import re
import sys
import time
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from botocore.exceptions import ClientError  # noqa: E402

import harness  # noqa: E402
from harness import ACCOUNT, REGION, ServerTestCase, create_stream, stream_arn, utcnow  # noqa: E402
from firehose_helpers import (  # noqa: E402
    DEFAULT_WAIT_S,
    DESTINATION_ID,
    ROLE_ARN,
    bucket_arn,
    delimiter_processing,
    lambda_arn,
    lambda_processing,
    firehose_arn,
    firehose_status,
    hints,
    key_regex,
    lines_of,
    read_objects,
    s3_dest,
    wait_objects,
    wait_until,
)

NOT_FOUND = "Firehose {} under account " + ACCOUNT + " not found."
DEFAULT_S3 = {
    "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 300},
    "CompressionFormat": "UNCOMPRESSED",
    "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
    "CloudWatchLoggingOptions": {"Enabled": False},
}
S3_DESCRIPTION_MEMBERS = ("RoleARN", "BucketARN", "Prefix", "ErrorOutputPrefix", "BufferingHints",
                          "CompressionFormat", "EncryptionConfiguration", "CloudWatchLoggingOptions")


def hour_prefix(t):
    return t.strftime("%Y/%m/%d/%H/")


class FirehoseCase(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fh = cls.server.client("firehose")
        # boto3 checks some constraints itself; this one lets the server answer them.
        cls.fh_raw = cls.server.client("firehose", parameter_validation=False)
        cls.s3 = cls.server.client("s3")

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            # the harness restarts a server that died (on another port): new clients too
            if self.server.alive() and type(self).fh.meta.endpoint_url != self.server.endpoint:
                cls = type(self)
                cls.fh = self.server.client("firehose")
                cls.s3 = self.server.client("s3")
                cls.fh_raw = self.server.client("firehose", parameter_validation=False)

    def create(self, name, dest=None, bucket=None, **kw):
        if dest is None:
            dest = s3_dest(bucket or "unused-bucket")
        return self.fh.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration=dest, **kw)

    def describe(self, name):
        return self.fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]

    def assertErr(self, fn, code, message=None, status=400, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(**kw)
        self.assertClientError(cm.exception, code, message, status)
        return cm.exception


# =============================================================================================
class ControlPlaneTest(FirehoseCase):
    """Shapes of the control-plane answers and every error AWS gives for them."""

    def test_create_and_describe_direct_put_defaults(self):
        t0 = utcnow().replace(microsecond=0)
        r = self.create("desc-min", s3_dest("bkt-desc"))
        t1 = utcnow()
        self.assertEqual(r["DeliveryStreamARN"], firehose_arn("desc-min"))
        self.assertEqual(set(r) - {"ResponseMetadata"}, {"DeliveryStreamARN"})
        d = self.describe("desc-min")
        created = d.pop("CreateTimestamp")
        self.assertTrue(t0 - datetime.timedelta(seconds=1) <= created <= t1 + datetime.timedelta(seconds=1),
                        (t0, created, t1))
        ext = dict({"RoleARN": ROLE_ARN, "BucketARN": bucket_arn("bkt-desc")}, **DEFAULT_S3, S3BackupMode="Disabled")
        plain = {k: ext[k] for k in S3_DESCRIPTION_MEMBERS if k in ext}
        self.assertEqual(d, {
            "DeliveryStreamName": "desc-min",
            "DeliveryStreamARN": firehose_arn("desc-min"),
            "DeliveryStreamStatus": "ACTIVE",
            "DeliveryStreamEncryptionConfiguration": {"Status": "DISABLED"},
            "DeliveryStreamType": "DirectPut",
            "VersionId": "1",
            "Destinations": [{"DestinationId": DESTINATION_ID, "S3DestinationDescription": plain,
                              "ExtendedS3DestinationDescription": ext}],
            "HasMoreDestinations": False,
        })

    def test_describe_full_extended_configuration(self):
        dest = s3_dest(
            "bkt-full", Prefix="in/!{timestamp:yyyy}/", ErrorOutputPrefix="err/!{firehose:error-output-type}/",
            BufferingHints=hints(60, 64), CompressionFormat="GZIP",
            CloudWatchLoggingOptions={"Enabled": True, "LogGroupName": "/aws/kinesisfirehose/x",
                                      "LogStreamName": "S3Delivery"},
            ProcessingConfiguration=delimiter_processing(), S3BackupMode="Enabled",
            S3BackupConfiguration={"RoleARN": ROLE_ARN, "BucketARN": bucket_arn("bkt-full-backup"),
                                   "Prefix": "raw/"},
            FileExtension=".json.gz", CustomTimeZone="America/New_York")
        self.create("desc-full", dest)
        ds = self.describe("desc-full")["Destinations"]
        self.assertEqual(len(ds), 1)
        ext = ds[0]["ExtendedS3DestinationDescription"]
        want = {k: v for k, v in dest.items() if k != "S3BackupConfiguration"}
        want["EncryptionConfiguration"] = {"NoEncryptionConfig": "NoEncryption"}
        want["S3BackupDescription"] = dict({"RoleARN": ROLE_ARN, "BucketARN": bucket_arn("bkt-full-backup"),
                                            "Prefix": "raw/"}, **DEFAULT_S3)
        self.assertEqual(ext, want)
        self.assertEqual(ds[0]["S3DestinationDescription"],
                         {k: want[k] for k in S3_DESCRIPTION_MEMBERS if k in want})

    def test_describe_plain_s3_destination(self):
        self.fh.create_delivery_stream(
            DeliveryStreamName="desc-s3",
            S3DestinationConfiguration={"RoleARN": ROLE_ARN, "BucketARN": bucket_arn("bkt-s3"), "Prefix": "p/",
                                        "CompressionFormat": "GZIP"})
        ds = self.describe("desc-s3")["Destinations"]
        plain = dict({"RoleARN": ROLE_ARN, "BucketARN": bucket_arn("bkt-s3"), "Prefix": "p/"}, **DEFAULT_S3)
        plain["CompressionFormat"] = "GZIP"
        self.assertEqual(ds, [{"DestinationId": DESTINATION_ID, "S3DestinationDescription": plain,
                               "ExtendedS3DestinationDescription": dict(plain, S3BackupMode="Disabled")}])

    def test_describe_kinesis_source(self):
        create_stream(self.kinesis, "ks-src", 2)
        before = time.time()
        self.create("desc-kin", s3_dest("bkt-kin"), DeliveryStreamType="KinesisStreamAsSource",
                    KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn("ks-src"), "RoleARN": ROLE_ARN})
        after = time.time()
        d = self.describe("desc-kin")
        self.assertEqual(d["DeliveryStreamType"], "KinesisStreamAsSource")
        self.assertNotIn("DeliveryStreamEncryptionConfiguration", d)
        src = d["Source"]
        self.assertEqual(set(src), {"KinesisStreamSourceDescription"})
        k = src["KinesisStreamSourceDescription"]
        start = k.pop("DeliveryStartTimestamp")
        self.assertEqual(k, {"KinesisStreamARN": stream_arn("ks-src"), "RoleARN": ROLE_ARN})
        self.assertTrue(before - 0.002 <= start.timestamp() <= after + 0.002, (before, start, after))
        self.assertEqual(self.fh.list_delivery_streams(DeliveryStreamType="KinesisStreamAsSource")
                         ["DeliveryStreamNames"], ["desc-kin"])

    def test_describe_exclusive_start_destination_id(self):
        self.create("desc-page", s3_dest("bkt-page"))
        d = self.fh.describe_delivery_stream(DeliveryStreamName="desc-page", Limit=1,
                                             ExclusiveStartDestinationId=DESTINATION_ID)["DeliveryStreamDescription"]
        self.assertEqual(d["Destinations"], [])
        self.assertFalse(d["HasMoreDestinations"])

    def test_list_paging_and_type_filter(self):
        s = harness.Server(in_memory=True)  # a server of its own: nothing else listed
        self.addCleanup(s.cleanup)
        s.start()
        fh = s.client("firehose")
        k = s.client("kinesis")
        create_stream(k, "src", 1)
        names = [f"list-{i:02d}" for i in range(12)]
        for n in reversed(names):
            fh.create_delivery_stream(DeliveryStreamName=n, ExtendedS3DestinationConfiguration=s3_dest("b"))
        for n in ("kin-a", "kin-b"):
            fh.create_delivery_stream(
                DeliveryStreamName=n, DeliveryStreamType="KinesisStreamAsSource",
                KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn("src"), "RoleARN": ROLE_ARN},
                ExtendedS3DestinationConfiguration=s3_dest("b"))
        everything = sorted(names + ["kin-a", "kin-b"])
        r = fh.list_delivery_streams()
        self.assertEqual(r["DeliveryStreamNames"], everything[:10], "default Limit 10, alphabetical")
        self.assertTrue(r["HasMoreDeliveryStreams"])
        r = fh.list_delivery_streams(ExclusiveStartDeliveryStreamName=everything[9])
        self.assertEqual(r["DeliveryStreamNames"], everything[10:])
        self.assertFalse(r["HasMoreDeliveryStreams"])
        r = fh.list_delivery_streams(Limit=14)
        self.assertEqual((r["DeliveryStreamNames"], r["HasMoreDeliveryStreams"]), (everything, False))
        r = fh.list_delivery_streams(Limit=3, DeliveryStreamType="DirectPut")
        self.assertEqual((r["DeliveryStreamNames"], r["HasMoreDeliveryStreams"]), (names[:3], True))
        r = fh.list_delivery_streams(DeliveryStreamType="KinesisStreamAsSource")
        self.assertEqual((r["DeliveryStreamNames"], r["HasMoreDeliveryStreams"]), (["kin-a", "kin-b"], False))
        r = fh.list_delivery_streams(ExclusiveStartDeliveryStreamName="kin-a",
                                     DeliveryStreamType="KinesisStreamAsSource")
        self.assertEqual((r["DeliveryStreamNames"], r["HasMoreDeliveryStreams"]), (["kin-b"], False))
        fh_raw = s.client("firehose", parameter_validation=False)
        for limit, what in ((0, "greater than or equal to 1"), (10001, "less than or equal to 10000")):
            with self.assertRaises(ClientError) as cm:
                fh_raw.list_delivery_streams(Limit=limit)
            self.assertClientError(cm.exception, "ValidationException",
                                   f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
                                   f"constraint: Member must have value {what}")
        r = fh.list_delivery_streams(DeliveryStreamType="DirectPut", ExclusiveStartDeliveryStreamName="list-11")
        self.assertEqual((r["DeliveryStreamNames"], r["HasMoreDeliveryStreams"]), ([], False))

    def test_delete(self):
        self.create("doomed", s3_dest("bkt-doomed"))
        self.assertEqual(set(self.fh.delete_delivery_stream(DeliveryStreamName="doomed")) - {"ResponseMetadata"}, set())
        self.assertErr(self.fh.describe_delivery_stream, "ResourceNotFoundException", NOT_FOUND.format("doomed"),
                       DeliveryStreamName="doomed")
        self.assertErr(self.fh.delete_delivery_stream, "ResourceNotFoundException", NOT_FOUND.format("doomed"),
                       DeliveryStreamName="doomed")
        self.assertNotIn("doomed", self.fh.list_delivery_streams(Limit=10000)["DeliveryStreamNames"])
        wait_until(lambda: "doomed" not in firehose_status(self.server), 5, 0.05, "doomed's worker to stop")
        self.create("doomed", s3_dest("bkt-doomed"))  # the name is free again
        self.assertEqual(self.describe("doomed")["VersionId"], "1")

    def test_tags(self):
        self.create("tagged", s3_dest("bkt-tags"), Tags=[{"Key": "team", "Value": "tide"}, {"Key": "env"}])
        lt = self.fh.list_tags_for_delivery_stream
        r = lt(DeliveryStreamName="tagged")
        self.assertEqual((r["Tags"], r["HasMoreTags"]),
                         ([{"Key": "env", "Value": ""}, {"Key": "team", "Value": "tide"}], False))
        self.fh.tag_delivery_stream(DeliveryStreamName="tagged",
                                    Tags=[{"Key": f"k{i:02d}", "Value": f"v{i}"} for i in range(10)]
                                    + [{"Key": "team", "Value": "ebb"}])
        r = lt(DeliveryStreamName="tagged", Limit=3)
        self.assertEqual((r["Tags"], r["HasMoreTags"]),
                         ([{"Key": "env", "Value": ""}, {"Key": "k00", "Value": "v0"}, {"Key": "k01", "Value": "v1"}],
                          True))
        r = lt(DeliveryStreamName="tagged", ExclusiveStartTagKey="k08", Limit=5)
        self.assertEqual((r["Tags"], r["HasMoreTags"]),
                         ([{"Key": "k09", "Value": "v9"}, {"Key": "team", "Value": "ebb"}], False))
        self.fh.untag_delivery_stream(DeliveryStreamName="tagged", TagKeys=[f"k{i:02d}" for i in range(10)] + ["nope"])
        r = lt(DeliveryStreamName="tagged")
        self.assertEqual(r["Tags"], [{"Key": "env", "Value": ""}, {"Key": "team", "Value": "ebb"}])
        # limits
        self.assertErr(self.fh.tag_delivery_stream, "LimitExceededException",
                       f"Failed to add tags to Firehose tagged under account {ACCOUNT} because a given "
                       "Firehose cannot have more than 50 tags.",
                       DeliveryStreamName="tagged", Tags=[{"Key": f"x{i:02d}", "Value": ""} for i in range(49)])
        self.assertEqual(len(lt(DeliveryStreamName="tagged")["Tags"]), 2, "a refused TagDeliveryStream adds nothing")
        self.assertErr(self.fh.tag_delivery_stream, "InvalidArgumentException",
                       "Tag keys starting with 'aws:' are reserved.",
                       DeliveryStreamName="tagged", Tags=[{"Key": "aws:x", "Value": "y"}])
        self.assertErr(self.fh_raw.list_tags_for_delivery_stream, "ValidationException",
                       "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: "
                       "Member must have value less than or equal to 50", DeliveryStreamName="tagged", Limit=51)
        for fn, kw in ((lt, {}), (self.fh.tag_delivery_stream, {"Tags": [{"Key": "a", "Value": "b"}]}),
                       (self.fh.untag_delivery_stream, {"TagKeys": ["a"]})):
            self.assertErr(fn, "ResourceNotFoundException", NOT_FOUND.format("nope"), DeliveryStreamName="nope", **kw)

    def test_update_destination_versions(self):
        self.create("upd", s3_dest("bkt-upd", Prefix="a/"))
        up = self.fh.update_destination
        d0 = self.describe("upd")
        self.assertNotIn("LastUpdateTimestamp", d0)
        # no real change: the version stays
        up(DeliveryStreamName="upd", CurrentDeliveryStreamVersionId="1", DestinationId=DESTINATION_ID,
           ExtendedS3DestinationUpdate={"Prefix": "a/"})
        self.assertEqual(self.describe("upd")["VersionId"], "1")
        up(DeliveryStreamName="upd", CurrentDeliveryStreamVersionId="1", DestinationId=DESTINATION_ID,
           ExtendedS3DestinationUpdate={"Prefix": "b/", "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 5}})
        d = self.describe("upd")
        self.assertEqual(d["VersionId"], "2")
        self.assertIn("LastUpdateTimestamp", d)
        self.assertGreaterEqual(d["LastUpdateTimestamp"], d["CreateTimestamp"])
        ext = d["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual((ext["Prefix"], ext["BufferingHints"], ext["CompressionFormat"], ext["RoleARN"]),
                         ("b/", {"IntervalInSeconds": 60, "SizeInMBs": 5}, "UNCOMPRESSED", ROLE_ARN),
                         "UpdateDestination merges into what was there")
        self.assertEqual(d["Destinations"][0]["S3DestinationDescription"]["Prefix"], "b/")
        # the old version id is now a concurrent modification
        self.assertErr(up, "ConcurrentModificationException",
                       "Cannot update firehose: upd since the current version id: 2 and specified version id: 1 "
                       "do not match", DeliveryStreamName="upd", CurrentDeliveryStreamVersionId="1",
                       DestinationId=DESTINATION_ID, ExtendedS3DestinationUpdate={"Prefix": "c/"})
        self.assertErr(up, "InvalidArgumentException", "Destination Id destinationId-000000000002 not found.",
                       DeliveryStreamName="upd", CurrentDeliveryStreamVersionId="2",
                       DestinationId="destinationId-000000000002", ExtendedS3DestinationUpdate={"Prefix": "c/"})
        self.assertErr(up, "InvalidArgumentException",
                       "The supplied prefix(es) do not satisfy the following constraint: ErrorOutputPrefix cannot "
                       "be null or empty when Prefix contains expressions",
                       DeliveryStreamName="upd", CurrentDeliveryStreamVersionId="2", DestinationId=DESTINATION_ID,
                       ExtendedS3DestinationUpdate={"Prefix": "!{timestamp:yyyy}/"})
        self.assertEqual(self.describe("upd")["VersionId"], "2", "refused updates change nothing")
        self.assertErr(up, "ResourceNotFoundException", NOT_FOUND.format("nope"), DeliveryStreamName="nope",
                       CurrentDeliveryStreamVersionId="1", DestinationId=DESTINATION_ID,
                       ExtendedS3DestinationUpdate={"Prefix": "c/"})

    def test_encryption_start_stop(self):
        self.create("enc", s3_dest("bkt-enc"))
        r = self.fh.put_record(DeliveryStreamName="enc", Record={"Data": b"x"})
        self.assertFalse(r["Encrypted"])
        self.fh.start_delivery_stream_encryption(DeliveryStreamName="enc")
        self.assertEqual(self.describe("enc")["DeliveryStreamEncryptionConfiguration"],
                         {"KeyType": "AWS_OWNED_CMK", "Status": "ENABLED"})
        self.assertTrue(self.fh.put_record(DeliveryStreamName="enc", Record={"Data": b"x"})["Encrypted"])
        key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        self.fh.start_delivery_stream_encryption(
            DeliveryStreamName="enc",
            DeliveryStreamEncryptionConfigurationInput={"KeyARN": key, "KeyType": "CUSTOMER_MANAGED_CMK"})
        self.assertEqual(self.describe("enc")["DeliveryStreamEncryptionConfiguration"],
                         {"KeyARN": key, "KeyType": "CUSTOMER_MANAGED_CMK", "Status": "ENABLED"})
        self.fh.stop_delivery_stream_encryption(DeliveryStreamName="enc")
        self.assertEqual(self.describe("enc")["DeliveryStreamEncryptionConfiguration"], {"Status": "DISABLED"})
        self.assertFalse(self.fh.put_record_batch(DeliveryStreamName="enc", Records=[{"Data": b"y"}])["Encrypted"])
        # a stream created encrypted
        self.create("enc2", s3_dest("bkt-enc"),
                    DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"})
        self.assertEqual(self.describe("enc2")["DeliveryStreamEncryptionConfiguration"],
                         {"KeyType": "AWS_OWNED_CMK", "Status": "ENABLED"})

    def test_put_record_and_batch_answers(self):
        self.create("puts", s3_dest("bkt-puts"))
        r = self.fh.put_record(DeliveryStreamName="puts", Record={"Data": b"hello"})
        self.assertEqual(set(r) - {"ResponseMetadata"}, {"RecordId", "Encrypted"})
        self.assertEqual(len(r["RecordId"]), 224)
        self.assertRegex(r["RecordId"], r"^[A-Za-z0-9+/=]{224}$")
        self.assertIs(r["Encrypted"], False)
        r = self.fh.put_record_batch(DeliveryStreamName="puts", Records=[{"Data": b"%d" % i} for i in range(500)])
        self.assertEqual(set(r) - {"ResponseMetadata"}, {"FailedPutCount", "Encrypted", "RequestResponses"})
        self.assertEqual((r["FailedPutCount"], r["Encrypted"]), (0, False))
        self.assertEqual(len(r["RequestResponses"]), 500)
        ids = [x["RecordId"] for x in r["RequestResponses"]]
        self.assertTrue(all(set(x) == {"RecordId"} and len(x["RecordId"]) == 224 for x in r["RequestResponses"]))
        self.assertEqual(len(set(ids)), 500, "record ids are unique")
        # the limits: exactly 1,024,000 bytes and exactly 4 MiB per batch are fine
        self.fh.put_record(DeliveryStreamName="puts", Record={"Data": b"m" * 1024000})
        exact = [{"Data": b"a" * 1024000}] * 4 + [{"Data": b"b" * (4 * 1024 * 1024 - 4 * 1024000)}]
        r = self.fh.put_record_batch(DeliveryStreamName="puts", Records=exact)
        self.assertEqual(r["FailedPutCount"], 0)

    def test_put_errors(self):
        self.create("puterr", s3_dest("bkt-puterr"))
        create_stream(self.kinesis, "ks-put", 1)
        self.create("kin-put", s3_dest("bkt-puterr"), DeliveryStreamType="KinesisStreamAsSource",
                    KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn("ks-put"), "RoleARN": ROLE_ARN})
        msg = "This operation is not permitted on KinesisStreamAsSource delivery stream type."
        self.assertErr(self.fh.put_record, "InvalidArgumentException", msg, DeliveryStreamName="kin-put",
                       Record={"Data": b"x"})
        self.assertErr(self.fh.put_record_batch, "InvalidArgumentException", msg, DeliveryStreamName="kin-put",
                       Records=[{"Data": b"x"}])
        self.assertErr(self.fh.put_record, "ResourceNotFoundException", NOT_FOUND.format("nope"),
                       DeliveryStreamName="nope", Record={"Data": b"x"})
        self.assertErr(self.fh.put_record_batch, "ResourceNotFoundException", NOT_FOUND.format("nope"),
                       DeliveryStreamName="nope", Records=[{"Data": b"x"}])
        self.assertErr(self.fh_raw.put_record_batch, "ValidationException",
                       re.compile(r"^1 validation error detected: Value '.*' at 'records' failed to satisfy "
                                  r"constraint: Member must have length less than or equal to 500$", re.S),
                       DeliveryStreamName="puterr", Records=[{"Data": b"x"}] * 501)
        self.assertErr(self.fh_raw.put_record_batch, "ValidationException",
                       "1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: "
                       "Member must have length greater than or equal to 1",
                       DeliveryStreamName="puterr", Records=[])
        self.assertErr(self.fh.put_record, "ValidationException",
                       "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1024001 cap=1024001]' "
                       "at 'record.data' failed to satisfy constraint: Member must have length less than or equal "
                       "to 1024000", DeliveryStreamName="puterr", Record={"Data": b"z" * 1024001})
        self.assertErr(self.fh.put_record_batch, "ValidationException",
                       "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1024001 cap=1024001]' "
                       "at 'records.2.member.data' failed to satisfy constraint: Member must have length less than "
                       "or equal to 1024000",
                       DeliveryStreamName="puterr", Records=[{"Data": b"ok"}, {"Data": b"z" * 1024001}])
        over = [{"Data": b"a" * 1024000}] * 4 + [{"Data": b"b" * (4 * 1024 * 1024 - 4 * 1024000 + 1)}]
        self.assertErr(self.fh.put_record_batch, "InvalidArgumentException", "Records size exceeds 4 MB limit",
                       DeliveryStreamName="puterr", Records=over)
        self.assertEqual(firehose_status(self.server)["puterr"]["BufferedRecords"], 0,
                         "refused puts buffer nothing")

    def test_lambda_processor_parameters_are_checked(self):
        c = self.fh_raw.create_delivery_stream
        for name, value, what in (("NumberOfRetries", "-1", "an integer between 0 and 300"),
                                  ("NumberOfRetries", "abc", "an integer between 0 and 300"),
                                  ("BufferSizeInMBs", "10", "a number between 0.2 and 3"),
                                  ("BufferSizeInMBs", "nan", "a number between 0.2 and 3"),
                                  ("NumberOfRetries", "nan", "an integer between 0 and 300"),
                                  ("BufferIntervalInSeconds", "100000", "an integer between 0 and 900")):
            proc = lambda_processing(lambda_arn("f"), interval=None)
            proc["Processors"][0]["Parameters"].append({"ParameterName": name, "ParameterValue": value})
            self.assertErr(c, "InvalidArgumentException", f"Invalid value {value} for parameter {name}: it must be {what}.",
                           DeliveryStreamName="lp", ExtendedS3DestinationConfiguration=s3_dest("b", ProcessingConfiguration=proc))
        two = lambda_processing(lambda_arn("f"))
        two["Processors"].append(two["Processors"][0])
        self.assertErr(c, "InvalidArgumentException", "Only one processor of type Lambda is supported.",
                       DeliveryStreamName="lp", ExtendedS3DestinationConfiguration=s3_dest("b", ProcessingConfiguration=two))

    def test_backup_cannot_be_disabled(self):
        self.create("bk", s3_dest("bkt-bk", S3BackupMode="Enabled", S3BackupConfiguration=s3_dest("bkt-bk-raw")))
        self.assertErr(self.fh_raw.update_destination, "InvalidArgumentException",
                       "S3BackupMode cannot be changed from Enabled to Disabled.", DeliveryStreamName="bk",
                       CurrentDeliveryStreamVersionId="1", DestinationId="destinationId-000000000001",
                       ExtendedS3DestinationUpdate={"S3BackupMode": "Disabled"})

    def test_create_errors(self):
        c = self.fh_raw.create_delivery_stream
        self.create("dup", s3_dest("bkt-dup"))
        self.assertErr(c, "ResourceInUseException", f"Firehose dup under accountId {ACCOUNT} already exists",
                       DeliveryStreamName="dup", ExtendedS3DestinationConfiguration=s3_dest("bkt-dup"))
        self.assertErr(c, "ValidationException",
                       "1 validation error detected: Value 'bad name!' at 'deliveryStreamName' failed to satisfy "
                       "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
                       DeliveryStreamName="bad name!", ExtendedS3DestinationConfiguration=s3_dest("b"))
        self.assertErr(c, "ValidationException",
                       f"1 validation error detected: Value '{'x' * 65}' at 'deliveryStreamName' failed to satisfy "
                       "constraint: Member must have length less than or equal to 64",
                       DeliveryStreamName="x" * 65, ExtendedS3DestinationConfiguration=s3_dest("b"))
        self.assertErr(c, "ValidationException",
                       "1 validation error detected: Value 'gzip' at "
                       "'extendedS3DestinationConfiguration.compressionFormat' failed to satisfy constraint: Member "
                       "must satisfy enum value set: [UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY]",
                       DeliveryStreamName="v1",
                       ExtendedS3DestinationConfiguration=s3_dest("b", CompressionFormat="gzip"))
        self.assertErr(c, "ValidationException",
                       "1 validation error detected: Value '901' at "
                       "'extendedS3DestinationConfiguration.bufferingHints.intervalInSeconds' failed to satisfy "
                       "constraint: Member must have value less than or equal to 900",
                       DeliveryStreamName="v2",
                       ExtendedS3DestinationConfiguration=s3_dest("b", BufferingHints=hints(901, 5)))
        self.assertErr(c, "ValidationException",
                       "1 validation error detected: Value '0' at "
                       "'extendedS3DestinationConfiguration.bufferingHints.sizeInMBs' failed to satisfy "
                       "constraint: Member must have value greater than or equal to 1",
                       DeliveryStreamName="v3",
                       ExtendedS3DestinationConfiguration=s3_dest("b", BufferingHints=hints(60, 0)))
        self.assertErr(c, "ValidationException",
                       "1 validation error detected: Value null at 'extendedS3DestinationConfiguration.roleARN' "
                       "failed to satisfy constraint: Member must not be null",
                       DeliveryStreamName="v4", ExtendedS3DestinationConfiguration={"BucketARN": bucket_arn("b")})
        self.assertErr(c, "ValidationException",
                       "1 validation error detected: Value 'bucket' at 'extendedS3DestinationConfiguration.bucketARN' "
                       "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                       "arn:.*:s3:::[\\w\\.\\-]{1,255}",
                       DeliveryStreamName="v5", ExtendedS3DestinationConfiguration={"RoleARN": ROLE_ARN,
                                                                                    "BucketARN": "bucket"})
        self.assertErr(c, "ValidationException",
                       re.compile(r"^2 validation errors detected: Value 'a b' at 'deliveryStreamName' .*; "
                                  r"Value 'Push' at 'deliveryStreamType' failed to satisfy constraint: Member must "
                                  r"satisfy enum value set: \[DirectPut, KinesisStreamAsSource, MSKAsSource, "
                                  r"DatabaseAsSource\]$"),
                       DeliveryStreamName="a b", DeliveryStreamType="Push",
                       ExtendedS3DestinationConfiguration=s3_dest("b"))
        self.assertErr(c, "InvalidArgumentException",
                       "The supplied prefix(es) do not satisfy the following constraint: ErrorOutputPrefix cannot be "
                       "null or empty when Prefix contains expressions",
                       DeliveryStreamName="p1",
                       ExtendedS3DestinationConfiguration=s3_dest("b", Prefix="data/!{timestamp:yyyy}/"))
        self.assertErr(c, "InvalidArgumentException",
                       "The supplied prefix(es) do not satisfy the following constraint: ErrorOutputPrefix must "
                       "contain at least one occurrence of !{firehose:error-output-type}",
                       DeliveryStreamName="p2",
                       ExtendedS3DestinationConfiguration=s3_dest("b", Prefix="data/!{timestamp:yyyy}/",
                                                                  ErrorOutputPrefix="err/!{timestamp:yyyy}/"))
        self.assertErr(c, "InvalidArgumentException",
                       "The supplied prefix(es) do not satisfy the following constraint: Prefix must not contain "
                       "any occurrence of !{firehose:error-output-type}",
                       DeliveryStreamName="p3",
                       ExtendedS3DestinationConfiguration=s3_dest(
                           "b", Prefix="d/!{firehose:error-output-type}/",
                           ErrorOutputPrefix="e/!{firehose:error-output-type}/"))
        self.assertErr(c, "InvalidArgumentException",
                       "Provided custom time zone is not supported. Custom time zones are limited to UTC and "
                       "non-3-letter IANA time zones.",
                       DeliveryStreamName="tz", ExtendedS3DestinationConfiguration=s3_dest("b", CustomTimeZone="EST"))
        self.assertErr(c, "InvalidArgumentException",
                       "Exactly one destination configuration is supported for a Firehose",
                       DeliveryStreamName="nodest")
        self.assertErr(c, "InvalidArgumentException",
                       "Exactly one destination configuration is supported for a Firehose",
                       DeliveryStreamName="twodest", ExtendedS3DestinationConfiguration=s3_dest("b"),
                       S3DestinationConfiguration=s3_dest("b"))
        self.assertErr(c, "InvalidArgumentException", f"Stream no-such-stream under account {ACCOUNT} not found.",
                       DeliveryStreamName="kin-missing", DeliveryStreamType="KinesisStreamAsSource",
                       KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn("no-such-stream"),
                                                         "RoleARN": ROLE_ARN},
                       ExtendedS3DestinationConfiguration=s3_dest("b"))
        self.assertErr(c, "InvalidArgumentException",
                       "KinesisStreamSourceConfiguration is required for KinesisStreamAsSource delivery streams.",
                       DeliveryStreamName="kin-nocfg", DeliveryStreamType="KinesisStreamAsSource",
                       ExtendedS3DestinationConfiguration=s3_dest("b"))
        self.assertErr(c, "InvalidArgumentException",
                       "LambdaArn is a required parameter for processor type Lambda.",
                       DeliveryStreamName="nolambda", ExtendedS3DestinationConfiguration=s3_dest(
                           "b", ProcessingConfiguration={"Enabled": True,
                                                         "Processors": [{"Type": "Lambda", "Parameters": []}]}))
        names = self.fh.list_delivery_streams(Limit=10000)["DeliveryStreamNames"]
        for n in ("v1", "v2", "v3", "v4", "v5", "p1", "p2", "p3", "tz", "nodest", "twodest", "kin-missing",
                  "kin-nocfg", "nolambda", "a b"):
            self.assertNotIn(n, names, "a refused create leaves nothing behind")

    def test_missing_stream_errors(self):
        for fn, kw in ((self.fh.describe_delivery_stream, {}), (self.fh.delete_delivery_stream, {}),
                       (self.fh.start_delivery_stream_encryption, {}),
                       (self.fh.stop_delivery_stream_encryption, {})):
            self.assertErr(fn, "ResourceNotFoundException", NOT_FOUND.format("ghost"), DeliveryStreamName="ghost",
                           **kw)

    def test_raw_wire_error_shape(self):
        """The JSON 1.1 error body: __type and message, status 400, x-amzn-RequestId."""
        body = json.dumps({"DeliveryStreamName": "ghost"}).encode()
        headers = harness.sigv4_headers(self.server.port, body, "Firehose_20150804.DescribeDeliveryStream",
                                        service="firehose")
        r = self.server.raw("POST", "/", body, headers)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.header("Content-Type"), "application/x-amz-json-1.1")
        self.assertTrue(r.header("x-amzn-RequestId"))
        doc = r.json()
        self.assertEqual(doc.get("message"), NOT_FOUND.format("ghost"), doc)
        self.assertIn(doc.get("__type"), ("ResourceNotFoundException",
                                          "com.amazonaws.firehose#ResourceNotFoundException"), doc)


# =============================================================================================
class DeliveryFormatsTest(FirehoseCase):
    """Delivery without a Lambda processor: keys, compression formats, time zones, versions."""

    def put_lines(self, name, lines):
        r = self.fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": x} for x in lines])
        self.assertEqual(r["FailedPutCount"], 0)

    def deliver(self, name, bucket, lines, prefix="", dest_kw=None, timeout=DEFAULT_WAIT_S):
        """Creates a DirectPut stream (interval 1 s, AppendDelimiterToRecord), puts lines, waits
        until all arrived; returns (objects, t_before_put, t_after_put)."""
        self.s3.create_bucket(Bucket=bucket)
        kw = dict(BufferingHints=hints(1), ProcessingConfiguration=delimiter_processing())
        kw.update(dest_kw or {})
        self.create(name, s3_dest(bucket, **kw))
        t0 = utcnow()
        self.put_lines(name, lines)
        t1 = utcnow()
        objs = wait_objects(self.server, self.s3, bucket, prefix, lambda o: len(lines_of(o)), len(lines), name,
                            timeout)
        return objs, t0, t1

    def assertExactlyOnce(self, objs, lines):
        got = sorted(x for o in objs for x in lines_of(o))
        self.assertEqual(got, sorted(lines), "every record delivered exactly once")

    def assertKeyTime(self, m, lo, hi, tz=datetime.timezone.utc):
        """The suffix time of key match m lies in [lo - 1 s, hi + 15 s] (local time in tz)."""
        y, mo, d, h, mi, s = (int(x) for x in m.groups()[-6:])
        t = datetime.datetime(y, mo, d, h, mi, s, tzinfo=tz)
        self.assertTrue(lo - datetime.timedelta(seconds=1) <= t <= hi + datetime.timedelta(seconds=15), (lo, t, hi))
        return t

    def test_default_prefix_uncompressed(self):
        lines = [b"plain-%03d" % i for i in range(50)]
        objs, t0, t1 = self.deliver("plain", "fh-plain", lines)
        for o in objs:
            m = key_regex(r"(\d{4}/\d{2}/\d{2}/\d{2}/)", "plain", 1).match(o.key)
            self.assertIsNotNone(m, o.key)
            self.assertIn(m.group(1), {hour_prefix(t0), hour_prefix(t1)})
            self.assertKeyTime(m, t0, t1)
            self.assertEqual((o.content_type, o.content_encoding), ("application/octet-stream", None))
        self.assertExactlyOnce(objs, lines)
        for o in objs:
            self.assertFalse(o.data.endswith(b"\n"), "AppendDelimiterToRecord: LF between records only")

    def test_prefix_without_slash_is_concatenated(self):
        lines = [b"cat-1"]
        objs, t0, t1 = self.deliver("concat", "fh-concat", lines, dest_kw={"Prefix": "logs"})
        self.assertEqual(len(objs), 1)
        self.assertRegex(objs[0].key, key_regex(r"logs\d{4}/\d{2}/\d{2}/\d{2}/", "concat", 1))

    def test_gzip_with_file_extension(self):
        lines = [json.dumps({"n": i}).encode() for i in range(100)]
        objs, t0, t1 = self.deliver("gz", "fh-gz", lines, "ev/",
                                    {"Prefix": "ev/", "CompressionFormat": "GZIP", "FileExtension": ".json.gz"})
        for o in objs:
            self.assertRegex(o.key, key_regex(r"ev/\d{4}/\d{2}/\d{2}/\d{2}/", "gz", 1, r"\.json\.gz"))
            self.assertEqual((o.content_type, o.content_encoding), ("application/octet-stream", "gzip"))
            self.assertEqual(o.raw[:2], b"\x1f\x8b")
        self.assertExactlyOnce(objs, lines)

    def test_zip_one_entry(self):
        lines = [b"zip-%d" % i for i in range(30)]
        objs, _, _ = self.deliver("zp", "fh-zip", lines, "z/", {"Prefix": "z/", "CompressionFormat": "ZIP"})
        for o in objs:
            self.assertRegex(o.key, key_regex(r"z/\d{4}/\d{2}/\d{2}/\d{2}/", "zp", 1, r"\.zip"))
            self.assertEqual(o.content_encoding, "zip")  # S3Object decoding checked: one entry
        self.assertExactlyOnce(objs, lines)

    def test_snappy_formats(self):
        # more than one 32 KiB block, compressible and not
        lines = [(b"snappy-%05d-" % i) + os.urandom(40).hex().encode() + b"x" * 200 for i in range(400)]
        for fmt, enc, name in (("Snappy", "snappy-java", "sn"), ("HADOOP_SNAPPY", "hadoop-snappy", "hsn")):
            with self.subTest(fmt):
                objs, _, _ = self.deliver(name, f"fh-{name}", lines, "s/",
                                          {"Prefix": "s/", "CompressionFormat": fmt})
                for o in objs:
                    self.assertRegex(o.key, key_regex(r"s/\d{4}/\d{2}/\d{2}/\d{2}/", name, 1, r"\.snappy"))
                    self.assertEqual(o.content_encoding, enc)
                self.assertExactlyOnce(objs, lines)

    def test_custom_time_zone(self):
        ny = zoneinfo.ZoneInfo("America/New_York")
        lines = [b"tz-1", b"tz-2"]
        objs, t0, t1 = self.deliver("tzny", "fh-tz", lines, "t/",
                                    {"Prefix": "t/", "CustomTimeZone": "America/New_York"})
        for o in objs:
            m = key_regex(r"t/(\d{4}/\d{2}/\d{2}/\d{2}/)", "tzny", 1).match(o.key)
            self.assertIsNotNone(m, o.key)
            self.assertIn(m.group(1), {hour_prefix(t0.astimezone(ny)), hour_prefix(t1.astimezone(ny))},
                          "the prefix hour is New York's")
            self.assertNotIn(m.group(1), {hour_prefix(t0), hour_prefix(t1)}, "not UTC's")
            self.assertKeyTime(m, t0.astimezone(ny).replace(tzinfo=None).replace(tzinfo=datetime.timezone.utc),
                               t1.astimezone(ny).replace(tzinfo=None).replace(tzinfo=datetime.timezone.utc))
        self.assertExactlyOnce(objs, lines)

    def test_timestamp_expressions(self):
        lines = [b"ts-1"]
        objs, t0, t1 = self.deliver(
            "tsx", "fh-tsx", lines, "y=",
            {"Prefix": "y=!{timestamp:yyyy}/m=!{timestamp:MM}/d=!{timestamp:dd}/h=!{timestamp:HH}/",
             "ErrorOutputPrefix": "e/!{firehose:error-output-type}/"})
        self.assertEqual(len(objs), 1)
        m = key_regex(r"y=(\d{4})/m=(\d{2})/d=(\d{2})/h=(\d{2})/", "tsx", 1).match(objs[0].key)
        self.assertIsNotNone(m, objs[0].key)
        self.assertIn("/".join(m.groups()[:4]) + "/", {hour_prefix(t0), hour_prefix(t1)},
                      "no default time prefix appended when Prefix has !{timestamp}")

    def test_update_destination_new_objects_carry_version_2(self):
        lines1 = [b"v1-a", b"v1-b"]
        objs, _, _ = self.deliver("ver", "fh-ver", lines1, "one/", {"Prefix": "one/"})
        self.assertTrue(all("/ver-1-" in o.key for o in objs), [o.key for o in objs])
        self.fh.update_destination(DeliveryStreamName="ver", CurrentDeliveryStreamVersionId="1",
                                   DestinationId=DESTINATION_ID,
                                   ExtendedS3DestinationUpdate={"Prefix": "two/", "CompressionFormat": "GZIP"})
        self.assertEqual(self.describe("ver")["VersionId"], "2")
        wait_until(lambda: firehose_status(self.server).get("ver", {}).get("VersionId") == 2, 5, 0.05,
                   "the engine to run version 2")
        lines2 = [b"v2-a", b"v2-b", b"v2-c"]
        self.put_lines("ver", lines2)
        objs2 = wait_objects(self.server, self.s3, "fh-ver", "two/", lambda o: len(lines_of(o)), 3, "ver")
        for o in objs2:
            self.assertRegex(o.key, key_regex(r"two/\d{4}/\d{2}/\d{2}/\d{2}/", "ver", 2, r"\.gz"))
            self.assertEqual(o.content_encoding, "gzip")
        self.assertExactlyOnce(objs2, lines2)
        self.assertExactlyOnce(read_objects(self.s3, "fh-ver", "one/"), lines1)

    def test_update_destination_keeps_buffered_records(self):
        """Records buffered when the destination changes are delivered once, by the new version."""
        self.s3.create_bucket(Bucket="fh-updbuf")
        self.create("updbuf", s3_dest("fh-updbuf", Prefix="old/", BufferingHints=hints(300),
                                      ProcessingConfiguration=delimiter_processing()))
        lines = [b"buffered-%d" % i for i in range(20)]
        self.put_lines("updbuf", lines)
        wait_until(lambda: firehose_status(self.server)["updbuf"]["BufferedRecords"] == 20, 5, 0.05,
                   "20 records buffered")
        self.fh.update_destination(DeliveryStreamName="updbuf", CurrentDeliveryStreamVersionId="1",
                                   DestinationId=DESTINATION_ID,
                                   ExtendedS3DestinationUpdate={"Prefix": "new/", "BufferingHints": hints(1)})
        objs = wait_objects(self.server, self.s3, "fh-updbuf", "", lambda o: len(lines_of(o)), 20, "updbuf")
        for o in objs:
            self.assertRegex(o.key, key_regex(r"new/\d{4}/\d{2}/\d{2}/\d{2}/", "updbuf", 2))
        self.assertExactlyOnce(objs, lines)

    def test_deleted_stream_buffer_is_not_delivered_by_its_successor(self):
        self.s3.create_bucket(Bucket="fh-reborn")
        self.create("reborn", s3_dest("fh-reborn", BufferingHints=hints(300),
                                      ProcessingConfiguration=delimiter_processing()))
        self.put_lines("reborn", [b"old-life-1", b"old-life-2"])
        self.fh.delete_delivery_stream(DeliveryStreamName="reborn")
        wait_until(lambda: "reborn" not in firehose_status(self.server), 5, 0.05, "reborn's worker to stop")
        self.create("reborn", s3_dest("fh-reborn", BufferingHints=hints(1),
                                      ProcessingConfiguration=delimiter_processing()))
        self.put_lines("reborn", [b"new-life"])
        objs = wait_objects(self.server, self.s3, "fh-reborn", "", lambda o: len(lines_of(o)), 1, "reborn")
        self.assertEqual([x for o in objs for x in lines_of(o)], [b"new-life"])

    def test_missing_bucket_then_created(self):
        """A delivery to a bucket that does not exist fails (LastError) and is retried; once the
        bucket exists, the records arrive once."""
        self.create("nob", s3_dest("fh-late", BufferingHints=hints(1), ProcessingConfiguration=delimiter_processing()))
        lines = [b"late-%d" % i for i in range(5)]
        self.put_lines("nob", lines)
        st = wait_until(lambda: (firehose_status(self.server).get("nob", {}).get("LastError") or "").startswith(
            "S3.NoSuchBucket") and firehose_status(self.server)["nob"], 10, 0.1, "a NoSuchBucket LastError")
        self.assertIn("fh-late", st["LastError"])
        self.assertEqual(st["DeliveredObjects"], 0)
        self.s3.create_bucket(Bucket="fh-late")
        objs = wait_objects(self.server, self.s3, "fh-late", "", lambda o: len(lines_of(o)), 5, "nob")
        self.assertExactlyOnce(objs, lines)

    def test_size_hint_delivers_before_the_interval(self):
        """SizeInMBs 1 with a 900 s interval: a full buffer goes out at once."""
        self.s3.create_bucket(Bucket="fh-size")
        self.create("size", s3_dest("fh-size", BufferingHints=hints(900, 1)))
        records = [bytes([65 + i]) * 250000 for i in range(5)]  # 1.25 MB > 1 MiB
        self.put_lines("size", records)
        objs = wait_objects(self.server, self.s3, "fh-size", "", lambda o: len(o.data) // 250000, 5, "size", 10)
        data = b"".join(o.data for o in objs)
        self.assertEqual(sorted(data[i:i + 250000] for i in range(0, len(data), 250000)), records)

    def test_status_counters(self):
        self.s3.create_bucket(Bucket="fh-cnt")
        self.create("cnt", s3_dest("fh-cnt", BufferingHints=hints(1), ProcessingConfiguration=delimiter_processing()))
        st = wait_until(lambda: firehose_status(self.server).get("cnt"), 5, 0.05, "cnt in /_tidepool/firehose")
        self.assertEqual(st, {"DeliveryStreamName": "cnt", "Region": REGION, "VersionId": 1, "BufferedRecords": 0,
                              "BufferedBytes": 0, "DeliveredObjects": 0, "DeliveredRecords": 0,
                              "LastDeliveryTimestamp": None, "LastError": None, "LastErrorTimestamp": None})
        t0 = time.time()
        self.put_lines("cnt", [b"c" * 10] * 7)
        objs = wait_objects(self.server, self.s3, "fh-cnt", "", lambda o: len(lines_of(o)), 7, "cnt")
        st = firehose_status(self.server)["cnt"]
        self.assertEqual((st["BufferedRecords"], st["BufferedBytes"], st["DeliveredRecords"], st["DeliveredObjects"],
                          st["LastError"]), (0, 0, 7, len(objs), None))
        self.assertIsInstance(st["LastDeliveryTimestamp"], (int, float))
        self.assertTrue(t0 - 1 <= st["LastDeliveryTimestamp"] <= time.time() + 1, st)


if __name__ == "__main__":
    harness.main()
