#!/usr/bin/env python3
"""Amazon CloudWatch metrics against a real tidepool process, on the three protocols clients speak:

  * the machine's current boto3 with the protocol botocore picks by default (checked on the wire),
  * the same botocore forced to Smithy RPC v2 CBOR, awsJson1_0 and awsQuery (a copy of its
    CloudWatch model with one protocol listed, loaded first through the data path),
  * Debian's python3-boto3 (/usr/bin/python3), an older botocore that speaks awsQuery,
  * raw awsQuery requests shaped as the workshop's Beam CloudWatchSink (Java SDK v2) and the KPL
    (C++ SDK) send them.

PutMetricData (Value, Values/Counts, StatisticValues, dimensions, resolutions), ListMetrics filters,
GetMetricStatistics at periods 1 and 60 with exact statistics, GetMetricData (paging, ScanBy,
refused expressions), AWS's error codes and texts, Host routing, and data surviving a restart.

Run alone:  TIDEPOOL_BIN=/work/main/build/tidepool python3 tests/integration/test_cloudwatch.py
"""

import datetime
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
import botocore  # noqa: E402
import botocore.session  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

import cbor_codec  # noqa: E402
import harness  # noqa: E402
from harness import REGION, ServerTestCase, raw_request, sigv4_headers  # noqa: E402

XMLNS = "{http://monitoring.amazonaws.com/doc/2010-08-01/}"
FORM_CT = "application/x-www-form-urlencoded; charset=utf-8"
RPCV2_PATH = "/service/GraniteServiceVersion20100801/operation/"
DEBIAN_PYTHON = "/usr/bin/python3"
UNITS_SET = ("[ Seconds, Microseconds, Milliseconds, Bytes, Kilobytes, Megabytes, Gigabytes, Terabytes, "
             "Bits, Kilobits, Megabits, Gigabits, Terabits, Percent, Count, Bytes/Second, Kilobytes/Second, "
             "Megabytes/Second, Gigabytes/Second, Terabytes/Second, Bits/Second, Kilobits/Second, "
             "Megabits/Second, Gigabits/Second, Terabits/Second, Count/Second, None ]")

_MODEL_DIRS = {}


def _model_dir(protocol):
    """A botocore data directory whose CloudWatch model lists only `protocol`."""
    if protocol not in _MODEL_DIRS:
        src = os.path.join(os.path.dirname(botocore.__file__), "data", "cloudwatch")
        root = tempfile.mkdtemp(prefix=f"tidepool-cw-{protocol}-")
        shutil.copytree(src, os.path.join(root, "cloudwatch"))
        version_dir = os.path.join(root, "cloudwatch", "2010-08-01")
        gz = os.path.join(version_dir, "service-2.json.gz")
        model = json.load(gzip.open(gz)) if os.path.exists(gz) else json.load(
            open(os.path.join(version_dir, "service-2.json")))
        model["metadata"]["protocols"] = [protocol]
        model["metadata"]["protocol"] = protocol
        if os.path.exists(gz):
            os.remove(gz)
        with open(os.path.join(version_dir, "service-2.json"), "w") as f:
            json.dump(model, f)
        _MODEL_DIRS[protocol] = root
    return _MODEL_DIRS[protocol]


def cw_client(server, protocol=None, region=REGION, validate=True):
    """A CloudWatch client of the current botocore; protocol None keeps botocore's own choice.
    client.wire lists (method, path, headers, body) of what it sent."""
    bs = botocore.session.get_session()
    if protocol:
        bs.get_component("data_loader").search_paths.insert(0, _model_dir(protocol))
    session = boto3.session.Session(botocore_session=bs, aws_access_key_id="AKIDTIDEPOOLTEST",
                                     aws_secret_access_key="x", region_name=region)
    client = session.client("cloudwatch", endpoint_url=server.endpoint, config=Config(
        retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=validate))
    client.wire = []

    def sent(request, **_):
        url = urllib.parse.urlsplit(request.url)
        client.wire.append((request.method, url.path, dict(request.headers), request.body))

    client.meta.events.register("before-send.cloudwatch", sent)
    return client


def utc(ts):
    return ts.astimezone(datetime.timezone.utc)


def minute_ago(minutes):
    """A whole minute in the past, so periods of 1 and 60 seconds both start on it."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    return now - datetime.timedelta(minutes=minutes)


def header(headers, name):
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v.decode() if isinstance(v, bytes) else v
    return None


def form(params):
    """An awsQuery body as the Java SDKs encode it: %20 for spaces."""
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote).encode()


class CloudWatchCase(ServerTestCase):
    def signed_form(self, body, host=None, content_type=FORM_CT):
        headers = sigv4_headers(self.server.port, body, None, content_type=content_type, service="monitoring")
        if host:
            headers["Host"] = host
        return raw_request(self.server.port, "POST", "/", body, headers)

    def xml(self, resp):
        return ET.fromstring(resp.body)

    def assertXmlError(self, resp, code, message=None, status=400):
        self.assertEqual(resp.status, status, resp)
        self.assertEqual(resp.header("Content-Type"), "text/xml")
        root = self.xml(resp)
        self.assertEqual(root.tag, XMLNS + "ErrorResponse")
        self.assertEqual(root.findtext(f"{XMLNS}Error/{XMLNS}Type"), "Sender")
        self.assertEqual(root.findtext(f"{XMLNS}Error/{XMLNS}Code"), code)
        if message is not None:
            self.assertEqual(root.findtext(f"{XMLNS}Error/{XMLNS}Message"), message)
        self.assertEqual(root.findtext(f"{XMLNS}RequestId"), resp.header("x-amzn-RequestId"))

    def assertCode(self, ctx, code, message=None):
        err = ctx.exception.response["Error"]
        self.assertEqual(err["Code"], code, err)
        if message is not None:
            self.assertEqual(err["Message"], message)
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)


class ProtocolsTest(CloudWatchCase):
    """The same script on every protocol: puts, listings, statistics, GetMetricData."""

    PROTOCOLS = ("default", "smithy-rpc-v2-cbor", "json", "query")

    def check_wire(self, client, protocol, op):
        method, path, headers, body = client.wire[-1]
        self.assertEqual(method, "POST")
        if protocol == "smithy-rpc-v2-cbor":
            self.assertEqual(path, RPCV2_PATH + op)
            self.assertEqual(header(headers, "smithy-protocol"), "rpc-v2-cbor")
            self.assertEqual(header(headers, "Content-Type"), "application/cbor")
            self.assertIsNone(header(headers, "X-Amz-Target"))
            cbor_codec.decode(body if header(headers, "Content-Encoding") != "gzip" else gzip.decompress(body))
        elif protocol == "json":
            self.assertEqual(path, "/")
            self.assertEqual(header(headers, "X-Amz-Target"), "GraniteServiceVersion20100801." + op)
            self.assertEqual(header(headers, "Content-Type"), "application/x-amz-json-1.0")
        else:
            self.assertEqual(path, "/")
            self.assertTrue(header(headers, "Content-Type").startswith("application/x-www-form-urlencoded"))
            raw = body if isinstance(body, bytes) else body.encode()
            self.assertIn(b"Action=" + op.encode(), raw)
            self.assertIn(b"Version=2010-08-01", raw)

    def check_answer_headers(self, protocol):
        resp = raw_request(self.server.port, "POST", RPCV2_PATH + "ListMetrics", cbor_codec.encode({}),
                           {**sigv4_headers(self.server.port, b"", None, "application/cbor", service="monitoring"),
                            "Smithy-Protocol": "rpc-v2-cbor"})
        if protocol == "smithy-rpc-v2-cbor":
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.header("Smithy-Protocol"), "rpc-v2-cbor")
            self.assertEqual(resp.header("Content-Type"), "application/cbor")
            self.assertIn("Metrics", cbor_codec.decode(resp.body))

    def test_every_protocol(self):
        for protocol in self.PROTOCOLS:
            with self.subTest(protocol=protocol):
                client = cw_client(self.server, None if protocol == "default" else protocol)
                wire = client.meta.service_model.resolved_protocol
                if protocol == "default":
                    # botocore orders json before smithy-rpc-v2-cbor (utils.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS)
                    self.assertIn(wire, client.meta.service_model.metadata["protocols"])
                else:
                    self.assertEqual(wire, protocol)
                self.run_script(client, wire, "P-" + protocol)

    def run_script(self, client, wire, ns):
        base = minute_ago(10)
        dims = [{"Name": "StreamName", "Value": "beam-workshop"}, {"Name": "Borough", "Value": "Queens"}]
        at = lambda s: base + datetime.timedelta(seconds=s)  # noqa: E731
        client.put_metric_data(Namespace=ns, MetricData=[
            {"MetricName": "Trips", "Dimensions": dims, "Timestamp": at(5), "Value": 2, "Unit": "Count",
             "StorageResolution": 1},
            {"MetricName": "Trips", "Dimensions": dims, "Timestamp": at(5), "Value": 4, "Unit": "Count",
             "StorageResolution": 1},
            {"MetricName": "Trips", "Dimensions": dims, "Timestamp": at(17), "Values": [1, 2, 3],
             "Counts": [1, 2, 3], "Unit": "Count", "StorageResolution": 1},
            {"MetricName": "Trips", "Dimensions": dims, "Timestamp": at(65), "Unit": "Count", "StorageResolution": 1,
             "StatisticValues": {"SampleCount": 10, "Sum": 55, "Minimum": 1, "Maximum": 10}},
            {"MetricName": "Other", "Dimensions": [dims[0]], "Timestamp": at(5), "Value": 1},
        ])
        self.check_wire(client, wire, "PutMetricData")
        self.check_answer_headers(wire)

        listed = client.list_metrics(Namespace=ns)["Metrics"]
        self.check_wire(client, wire, "ListMetrics")
        self.assertEqual(sorted((m["MetricName"], len(m["Dimensions"])) for m in listed), [("Other", 1), ("Trips", 2)])
        trips = [m for m in listed if m["MetricName"] == "Trips"][0]
        self.assertEqual(trips["Dimensions"], sorted(dims, key=lambda d: d["Name"]))
        by_filter = lambda **kw: sorted(m["MetricName"] for m in client.list_metrics(Namespace=ns, **kw)["Metrics"])  # noqa: E731
        self.assertEqual(by_filter(Dimensions=[{"Name": "Borough"}]), ["Trips"])
        self.assertEqual(by_filter(Dimensions=[{"Name": "StreamName", "Value": "beam-workshop"}]), ["Other", "Trips"])
        self.assertEqual(by_filter(Dimensions=[{"Name": "StreamName", "Value": "nope"}]), [])
        self.assertEqual(by_filter(MetricName="Other"), ["Other"])
        self.assertEqual(by_filter(RecentlyActive="PT3H"), ["Other", "Trips"])

        stats = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"]
        r = client.get_metric_statistics(Namespace=ns, MetricName="Trips", Dimensions=list(reversed(dims)),
                                         StartTime=base, EndTime=at(120), Period=1, Statistics=stats)
        self.check_wire(client, wire, "GetMetricStatistics")
        self.assertEqual(r["Label"], "Trips")
        got = {int((utc(d["Timestamp"]) - base).total_seconds()): d for d in r["Datapoints"]}
        self.assertEqual(sorted(got), [5, 17, 65])
        self.assertEqual({k: got[5][k] for k in stats}, {"SampleCount": 2, "Average": 3, "Sum": 6, "Minimum": 2, "Maximum": 4})
        self.assertEqual({k: got[17][k] for k in stats},
                         {"SampleCount": 6, "Average": 14 / 6, "Sum": 14, "Minimum": 1, "Maximum": 3})
        self.assertEqual({k: got[65][k] for k in stats},
                         {"SampleCount": 10, "Average": 5.5, "Sum": 55, "Minimum": 1, "Maximum": 10})
        self.assertTrue(all(d["Unit"] == "Count" for d in r["Datapoints"]))

        r = client.get_metric_statistics(Namespace=ns, MetricName="Trips", Dimensions=dims, StartTime=base,
                                         EndTime=at(120), Period=60, Statistics=["Sum", "SampleCount", "Maximum"])
        got = {int((utc(d["Timestamp"]) - base).total_seconds()): d for d in r["Datapoints"]}
        self.assertEqual(sorted(got), [0, 60])
        self.assertEqual((got[0]["Sum"], got[0]["SampleCount"], got[0]["Maximum"]), (20, 8, 4))
        self.assertNotIn("Average", got[0])
        self.assertEqual((got[60]["Sum"], got[60]["SampleCount"]), (55, 10))
        # a subset of the dimensions is another metric; a unit filter selects
        r = client.get_metric_statistics(Namespace=ns, MetricName="Trips", Dimensions=[dims[0]], StartTime=base,
                                         EndTime=at(120), Period=60, Statistics=["Sum"])
        self.assertEqual(r["Datapoints"], [])
        r = client.get_metric_statistics(Namespace=ns, MetricName="Trips", Dimensions=dims, StartTime=base,
                                         EndTime=at(120), Period=60, Statistics=["Sum"], Unit="Seconds")
        self.assertEqual(r["Datapoints"], [])

        query = {"Metric": {"Namespace": ns, "MetricName": "Trips", "Dimensions": dims}, "Period": 60, "Stat": "Sum"}
        r = client.get_metric_data(MetricDataQueries=[{"Id": "trips", "MetricStat": query},
                                                      {"Id": "avg", "Label": "mean", "MetricStat": {**query, "Stat": "Average"}}],
                                   StartTime=base, EndTime=at(120))
        self.check_wire(client, wire, "GetMetricData")
        first, second = r["MetricDataResults"]
        self.assertEqual((first["Id"], first["Label"], first["StatusCode"]), ("trips", "Trips", "Complete"))
        self.assertEqual([int((utc(t) - base).total_seconds()) for t in first["Timestamps"]], [60, 0])  # newest first
        self.assertEqual(first["Values"], [55, 20])
        self.assertEqual((second["Label"], second["Values"]), ("mean", [5.5, 2.5]))
        self.assertEqual(r["Messages"], [])


class PutShapesTest(CloudWatchCase):
    """The exact requests of the workshop's clients, sent raw."""

    def statistics(self, ns, name, dims, start, period=1, end=None):
        client = cw_client(self.server)
        return client.get_metric_statistics(
            Namespace=ns, MetricName=name, Dimensions=dims, StartTime=start,
            EndTime=end or start + datetime.timedelta(seconds=120), Period=period,
            Statistics=["SampleCount", "Sum", "Minimum", "Maximum"])["Datapoints"]

    def test_beam_cloudwatch_sink(self):
        # CloudWatchSink (Java SDK v2, awsQuery): namespace Beam, "Number of Trips", Count, StorageResolution 1
        base = minute_ago(5)
        stamp = (base + datetime.timedelta(seconds=7, milliseconds=250)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        for borough, value in (("Queens", "12.0"), ("Queens", "30.0"), ("Bronx", "5.0")):
            body = form([
                ("Action", "PutMetricData"), ("Version", "2010-08-01"), ("Namespace", "Beam"),
                ("MetricData.member.1.MetricName", "Number of Trips"),
                ("MetricData.member.1.Dimensions.member.1.Name", "StreamName"),
                ("MetricData.member.1.Dimensions.member.1.Value", "beam-workshop"),
                ("MetricData.member.1.Dimensions.member.2.Name", "Borough"),
                ("MetricData.member.1.Dimensions.member.2.Value", borough),
                ("MetricData.member.1.Timestamp", stamp), ("MetricData.member.1.Value", value),
                ("MetricData.member.1.Unit", "Count"), ("MetricData.member.1.StorageResolution", "1")])
            self.assertIn(b"Number%20of%20Trips", body)
            resp = self.signed_form(body, content_type="application/x-www-form-urlencoded; charset=UTF-8")
            self.assertEqual(resp.status, 200, resp)
            root = self.xml(resp)
            self.assertEqual(root.tag, XMLNS + "PutMetricDataResponse")
            self.assertEqual(root.findtext(f"{XMLNS}ResponseMetadata/{XMLNS}RequestId"), resp.header("x-amzn-RequestId"))
            self.assertIsNone(root.find(XMLNS + "PutMetricDataResult"))
        queens = [{"Name": "StreamName", "Value": "beam-workshop"}, {"Name": "Borough", "Value": "Queens"}]
        points = self.statistics("Beam", "Number of Trips", queens, base)
        self.assertEqual(len(points), 1)
        self.assertEqual(int((utc(points[0]["Timestamp"]) - base).total_seconds()), 7)
        self.assertEqual((points[0]["SampleCount"], points[0]["Sum"], points[0]["Minimum"], points[0]["Maximum"]),
                         (2, 42, 12, 30))

    def test_kpl_metrics(self):
        # The KPL's metrics manager (C++ SDK, awsQuery): up to 20 StatisticValues data per request,
        # ISO timestamps without fraction, shard-level and stream-level dimensions, global ones
        base = minute_ago(3)
        stamp = (base + datetime.timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        data = [("UserRecordsPut", [("StreamName", "beam-workshop"), ("ShardId", f"shardId-00000000000{i}")],
                 "Count", (100.0 + i, 400.0, 1.0, 9.0)) for i in range(4)]
        data += [("UserRecordsPut", [("StreamName", "beam-workshop")], "Count", (404.0, 1606.0, 1.0, 9.0)),
                 ("BufferingTime", [("StreamName", "beam-workshop")], "Milliseconds", (10.0, 1000.0, 80.0, 130.0)),
                 ("UserRecordsPut", [], "Count", (404.0, 1606.0, 1.0, 9.0)),
                 ("ErrorsByCode", [("StreamName", "beam-workshop"), ("ErrorCode", "Expired")], "Count", (1.0, 1.0, 1.0, 1.0))]
        params = [("Action", "PutMetricData"), ("Namespace", "KinesisProducerLibrary")]
        for i, (name, dims, unit, (count, total, lo, hi)) in enumerate(data, 1):
            p = f"MetricData.member.{i}"
            params.append((f"{p}.MetricName", name))
            for j, (dn, dv) in enumerate(dims, 1):
                params += [(f"{p}.Dimensions.member.{j}.Name", dn), (f"{p}.Dimensions.member.{j}.Value", dv)]
            params += [(f"{p}.Timestamp", stamp), (f"{p}.StatisticValues.SampleCount", f"{count:f}"),
                       (f"{p}.StatisticValues.Sum", f"{total:f}"), (f"{p}.StatisticValues.Minimum", f"{lo:f}"),
                       (f"{p}.StatisticValues.Maximum", f"{hi:f}"), (f"{p}.Unit", unit)]
        params.append(("Version", "2010-08-01"))
        resp = self.signed_form(form(params))
        self.assertEqual(resp.status, 200, resp)

        client = cw_client(self.server, "query")
        shards = client.list_metrics(Namespace="KinesisProducerLibrary", Dimensions=[{"Name": "ShardId"}])["Metrics"]
        self.assertEqual(sorted(next(d["Value"] for d in m["Dimensions"] if d["Name"] == "ShardId") for m in shards),
                         [f"shardId-00000000000{i}" for i in range(4)])
        everything = client.list_metrics(Namespace="KinesisProducerLibrary")["Metrics"]
        self.assertEqual(len(everything), len(data))
        self.assertIn({"Namespace": "KinesisProducerLibrary", "MetricName": "UserRecordsPut", "Dimensions": []},
                      everything)
        # standard resolution: stored in its minute
        points = self.statistics("KinesisProducerLibrary", "UserRecordsPut",
                                 [{"Name": "ShardId", "Value": "shardId-000000000002"},
                                  {"Name": "StreamName", "Value": "beam-workshop"}], base, period=60)
        self.assertEqual([(utc(p["Timestamp"]), p["SampleCount"], p["Sum"]) for p in points], [(base, 102, 400)])
        points = self.statistics("KinesisProducerLibrary", "UserRecordsPut", [], base, period=60)
        self.assertEqual([(p["SampleCount"], p["Maximum"], p["Unit"]) for p in points], [(404, 9, "Count")])

    def test_kinesisio_backlog_query(self):
        # Beam's KinesisIO (Java SDK v1, awsQuery) estimates its backlog from AWS/Kinesis IncomingBytes;
        # tidepool publishes no AWS/ metrics, so the answer is a well-formed empty result
        end = minute_ago(0)
        stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.000Z")  # noqa: E731
        resp = self.signed_form(form([
            ("Action", "GetMetricStatistics"), ("Version", "2010-08-01"), ("Namespace", "AWS/Kinesis"),
            ("MetricName", "IncomingBytes"), ("Dimensions.member.1.Name", "StreamName"),
            ("Dimensions.member.1.Value", "beam-workshop"), ("StartTime", stamp(end - datetime.timedelta(hours=1))),
            ("EndTime", stamp(end)), ("Period", "60"), ("Statistics.member.1", "Sum")]))
        self.assertEqual(resp.status, 200, resp)
        result = self.xml(resp).find(XMLNS + "GetMetricStatisticsResult")
        self.assertEqual(result.findtext(XMLNS + "Label"), "IncomingBytes")
        self.assertEqual(list(result.find(XMLNS + "Datapoints")), [])

    def test_large_batch_is_gzip_compressed(self):
        # botocore compresses PutMetricData bodies over 10 KiB (the requestCompression trait)
        base = minute_ago(2)
        for protocol in (None, "smithy-rpc-v2-cbor", "query"):
            with self.subTest(protocol=protocol):
                client = cw_client(self.server, protocol)
                ns = f"Batch-{protocol}"
                client.put_metric_data(Namespace=ns, MetricData=[
                    {"MetricName": "m", "Dimensions": [{"Name": "i", "Value": str(i % 50)}],
                     "Timestamp": base, "Value": float(i), "StorageResolution": 1} for i in range(1000)])
                self.assertEqual(header(client.wire[-1][2], "Content-Encoding"), "gzip")
                page = client.list_metrics(Namespace=ns)
                self.assertEqual(len(page["Metrics"]), 50)
                total = client.get_metric_statistics(Namespace=ns, MetricName="m", Dimensions=[{"Name": "i", "Value": "7"}],
                                                     StartTime=base, EndTime=base + datetime.timedelta(seconds=1),
                                                     Period=1, Statistics=["Sum", "SampleCount"])["Datapoints"]
                self.assertEqual((total[0]["SampleCount"], total[0]["Sum"]), (20, sum(range(7, 1000, 50))))

    def test_list_metrics_pages(self):
        client = cw_client(self.server)
        base = minute_ago(1)
        for chunk in range(3):
            client.put_metric_data(Namespace="Pages", MetricData=[
                {"MetricName": f"m{chunk * 250 + i:04d}", "Timestamp": base, "Value": 1} for i in range(250)])
        first = client.list_metrics(Namespace="Pages")
        self.assertEqual(len(first["Metrics"]), 500)
        second = client.list_metrics(Namespace="Pages", NextToken=first["NextToken"])
        self.assertEqual(len(second["Metrics"]), 250)
        self.assertNotIn("NextToken", second)
        names = {m["MetricName"] for m in first["Metrics"] + second["Metrics"]}
        self.assertEqual(len(names), 750)
        with self.assertRaises(ClientError) as ctx:
            client.list_metrics(NextToken="garbage")
        self.assertCode(ctx, "InvalidParameterValue", "Request parameter NextToken is invalid")


class GetMetricDataTest(CloudWatchCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.base = minute_ago(20)
        client = cw_client(cls.server)
        client.put_metric_data(Namespace="Data", MetricData=[
            {"MetricName": "m", "Timestamp": cls.base + datetime.timedelta(seconds=s), "Value": s,
             "StorageResolution": 1} for s in range(10)])

    def query(self, **kw):
        return {"Id": kw.pop("Id", "q"), "MetricStat": {"Metric": {"Namespace": "Data", "MetricName": "m"},
                                                          "Period": 1, "Stat": kw.pop("Stat", "Sum")}, **kw}

    def test_paging_and_order(self):
        client = cw_client(self.server, "smithy-rpc-v2-cbor")
        end = self.base + datetime.timedelta(seconds=60)
        r = client.get_metric_data(MetricDataQueries=[self.query(Id="a"), self.query(Id="b", Stat="Maximum")],
                                   StartTime=self.base, EndTime=end, ScanBy="TimestampAscending", MaxDatapoints=15)
        a, b = r["MetricDataResults"]
        self.assertEqual((a["Values"], a["StatusCode"]), ([float(s) for s in range(10)], "Complete"))
        self.assertEqual((b["Values"], b["StatusCode"]), ([0.0, 1.0, 2.0, 3.0, 4.0], "PartialData"))
        r2 = client.get_metric_data(MetricDataQueries=[self.query(Id="a"), self.query(Id="b", Stat="Maximum")],
                                    StartTime=self.base, EndTime=end, ScanBy="TimestampAscending", MaxDatapoints=15,
                                    NextToken=r["NextToken"])
        (b2,) = r2["MetricDataResults"]
        self.assertEqual((b2["Id"], b2["Values"], b2["StatusCode"]), ("b", [5.0, 6.0, 7.0, 8.0, 9.0], "Complete"))
        self.assertNotIn("NextToken", r2)
        r = client.get_metric_data(MetricDataQueries=[self.query(), self.query(Id="hidden", ReturnData=False)],
                                   StartTime=self.base, EndTime=end)
        (only,) = r["MetricDataResults"]
        self.assertEqual(only["Values"], [float(s) for s in range(9, -1, -1)])
        self.assertEqual([utc(t) for t in only["Timestamps"]][-1], self.base)

    def test_rpcv2_timestamps_are_epoch_seconds(self):
        body = cbor_codec.encode({"MetricDataQueries": [self.query()],
                                  "StartTime": cbor_codec.Tag(1, self.base.timestamp()),
                                  "EndTime": cbor_codec.Tag(1, self.base.timestamp() + 3)})
        headers = {**sigv4_headers(self.server.port, body, None, "application/cbor", service="monitoring"),
                   "Smithy-Protocol": "rpc-v2-cbor", "Accept": "application/cbor"}
        resp = raw_request(self.server.port, "POST", RPCV2_PATH + "GetMetricData", body, headers)
        self.assertEqual(resp.status, 200, resp)
        doc = cbor_codec.decode(resp.body)
        stamps = doc["MetricDataResults"][0]["Timestamps"]
        self.assertEqual(stamps[0], cbor_codec.Tag(1, self.base.timestamp() + 2))
        self.assertIsInstance(stamps[0].value, float)

    def test_refusals(self):
        client = cw_client(self.server)
        end = self.base + datetime.timedelta(seconds=60)
        with self.assertRaises(ClientError) as ctx:
            client.get_metric_data(MetricDataQueries=[{"Id": "e", "Expression": "SUM(METRICS())", "Period": 60}],
                                   StartTime=self.base, EndTime=end)
        self.assertCode(ctx, "ValidationError")
        self.assertIn("MetricDataQueries.member.1.Expression", ctx.exception.response["Error"]["Message"])
        with self.assertRaises(ClientError) as ctx:
            client.get_metric_data(MetricDataQueries=[self.query(Id="Bad", Stat="Median"), self.query(Id="ok")],
                                   StartTime=self.base, EndTime=end)
        self.assertCode(ctx, "ValidationError",
                        "The value Bad for parameter MetricDataQueries.member.1.Id is not matching the expected "
                        "pattern ^[a-z][a-zA-Z0-9_]*$.\n"
                        "The value Median for parameter MetricDataQueries.member.1.MetricStat.Stat is not a valid "
                        "statistic.\n")
        with self.assertRaises(ClientError) as ctx:
            client.get_metric_data(MetricDataQueries=[self.query()], StartTime=self.base, EndTime=self.base)
        self.assertCode(ctx, "ValidationError", "The parameter StartTime must not equal parameter EndTime.\n")
        with self.assertRaises(ClientError) as ctx:
            client.get_metric_data(MetricDataQueries=[{"Id": "x"}], StartTime=self.base, EndTime=end)
        self.assertCode(ctx, "ValidationError", "The parameter MetricDataQueries.member.1.MetricStat is required.\n")


class ErrorsTest(CloudWatchCase):
    """AWS's codes and texts, the same on every protocol."""

    def clients(self):
        return [cw_client(self.server, p, validate=False) for p in ("json", "smithy-rpc-v2-cbor", "query")]

    def expect(self, code, message, call):
        for client in self.clients():
            with self.subTest(protocol=client.meta.service_model.resolved_protocol):
                with self.assertRaises(ClientError) as ctx:
                    call(client)
                self.assertCode(ctx, code, message)
                if client.meta.service_model.resolved_protocol != "query":
                    # the awsQuery code travels in x-amzn-query-error; __type is the shape id
                    self.assertTrue(ctx.exception.response["Error"]["QueryErrorCode"].endswith(("Exception", "Error", "Token")))

    def test_put_metric_data_errors(self):
        ok = {"MetricName": "m", "Value": 1}
        self.expect("MissingParameter", "The parameter Namespace is required.",
                    lambda c: c.put_metric_data(MetricData=[ok]))
        self.expect("InvalidParameterValue", "The collection MetricData must not have a size greater than 1000.",
                    lambda c: c.put_metric_data(Namespace="E", MetricData=[ok] * 1001))
        self.expect("InvalidParameterValue",
                    "The parameter MetricData.member.1.StorageResolution must be a value in the set [ 1, 60 ].\n"
                    "The parameter MetricData.member.2.StorageResolution must be a value in the set [ 1, 60 ].",
                    lambda c: c.put_metric_data(Namespace="E", MetricData=[{**ok, "StorageResolution": 5},
                                                                            {**ok, "StorageResolution": 300}]))
        self.expect("InvalidParameterCombination",
                    "The parameters MetricData.member.1.Value and MetricData.member.1.StatisticValues are mutually "
                    "exclusive and you have specified both.",
                    lambda c: c.put_metric_data(Namespace="E", MetricData=[{**ok, "StatisticValues": {
                        "SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}]))
        self.expect("InvalidParameterValue", f"The parameter MetricData.member.1.Unit must be a value in the set {UNITS_SET}.",
                    lambda c: c.put_metric_data(Namespace="E", MetricData=[{**ok, "Unit": "Trips"}]))
        self.expect("InvalidParameterValue",
                    "The parameter MetricData.member.1.Timestamp must specify a time within the past two weeks.",
                    lambda c: c.put_metric_data(Namespace="E", MetricData=[{**ok, "Timestamp": minute_ago(60 * 24 * 15)}]))
        self.expect("InvalidParameterValue", "No metric may specify the same dimension name twice.",
                    lambda c: c.put_metric_data(Namespace="E", MetricData=[{**ok, "Dimensions": [
                        {"Name": "a", "Value": "1"}, {"Name": "a", "Value": "2"}]}]))
        self.expect("InvalidParameterValue",
                    "The collection MetricData.member.1.Dimensions must not have a size greater than 30.",
                    lambda c: c.put_metric_data(Namespace="E", MetricData=[{**ok, "Dimensions": [
                        {"Name": f"d{i}", "Value": "v"} for i in range(31)]}]))
        self.expect("InvalidParameterValue",
                    "The collection MetricData.member.1.Values must not have a size greater than 150.",
                    lambda c: c.put_metric_data(Namespace="E", MetricData=[{"MetricName": "m",
                                                                            "Values": [1.0] * 151}]))

    def test_get_metric_statistics_errors(self):
        now = minute_ago(0)
        ago = now - datetime.timedelta(hours=1)
        call = lambda **kw: lambda c: c.get_metric_statistics(**{  # noqa: E731
            "Namespace": "E", "MetricName": "m", "StartTime": ago, "EndTime": now, "Period": 60,
            "Statistics": ["Sum"], **kw})
        self.expect("ValidationError", "1 validation error detected: Value '0' at 'period' failed to satisfy "
                    "constraint: Member must have value greater than or equal to 1", call(Period=0))
        self.expect("InvalidParameterValue", "The parameter Period must be 1, 5, 10, 30, or a multiple of 60.",
                    call(Period=7))
        self.expect("InvalidParameterValue", "The parameter StartTime must not equal parameter EndTime.",
                    call(StartTime=now))
        self.expect("InvalidParameterValue",
                    "The parameter Statistics.member.1.<list element> must be a value in the set "
                    "[SampleCount, Average, Sum, Minimum, Maximum].", call(Statistics=["Median"]))
        self.expect("InvalidParameterCombination",
                    "You have requested up to 3600 datapoints, which exceeds the limit of 1440. You may reduce the "
                    "datapoints requested by increasing Period, or decreasing the time range.", call(Period=1))
        self.expect("MissingParameter", "The parameter Namespace is required.\nThe parameter Period is required.",
                    lambda c: c.get_metric_statistics(MetricName="m", StartTime=ago, EndTime=now, Statistics=["Sum"]))

    def test_awsquery_wire_errors(self):
        resp = self.signed_form(form([("Action", "GetMetricStatistics"), ("Version", "2010-08-01"),
                                      ("Namespace", "E"), ("MetricName", "m"), ("Period", "30.0")]))
        self.assertXmlError(resp, "MalformedInput")
        resp = self.signed_form(form([("Action", "PutMetricData"), ("Version", "2010-08-01"), ("Namespace", "E"),
                                      ("MetricData.member.1.MetricName", "m"), ("MetricData.member.1.Value", "1"),
                                      ("MetricData.member.1.Timestamp", "1714557600")]))
        self.assertXmlError(resp, "MalformedInput", "timestamp must follow ISO8601")
        resp = self.signed_form(form([("Action", "DescribeNothing"), ("Version", "2010-08-01")]))
        self.assertXmlError(resp, "InvalidAction", "Could not find operation DescribeNothing for version 2010-08-01")
        resp = raw_request(self.server.port, "POST", "/", form([("Action", "ListMetrics"), ("Version", "2010-08-01")]),
                           {"Content-Type": FORM_CT})
        self.assertXmlError(resp, "MissingAuthenticationTokenException", "Missing Authentication Token")


class RoutingTest(CloudWatchCase):
    def test_get_with_query_string(self):
        cw_client(self.server).put_metric_data(Namespace="Get", MetricData=[{"MetricName": "g", "Value": 1}])
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        url = f"{self.server.endpoint}/?Action=ListMetrics&Version=2010-08-01&Namespace=Get"
        req = AWSRequest(method="GET", url=url)
        SigV4Auth(Credentials("AKIDTIDEPOOLTEST", "x"), "monitoring", REGION).add_auth(req)
        resp = raw_request(self.server.port, "GET", "/?" + url.split("?", 1)[1], b"", dict(req.headers))
        self.assertEqual(resp.status, 200, resp)
        names = [e.text for e in self.xml(resp).iter(XMLNS + "MetricName")]
        self.assertEqual(names, ["g"])

    def test_host_names_the_service_and_region(self):
        # no credential scope in the Authorization header: the Host's region applies
        auth = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDTIDEPOOLTEST, SignedHeaders=host, Signature=00",
                "X-Amz-Date": "20240101T000000Z"}
        body = form([("Action", "PutMetricData"), ("Version", "2010-08-01"), ("Namespace", "Hosted"),
                     ("MetricData.member.1.MetricName", "h"), ("MetricData.member.1.Value", "1")])
        resp = raw_request(self.server.port, "POST", "/", body,
                           {**auth, "Host": "monitoring.eu-west-3.amazonaws.com", "Content-Type": FORM_CT})
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(len(cw_client(self.server, region="eu-west-3").list_metrics(Namespace="Hosted")["Metrics"]), 1)
        self.assertEqual(cw_client(self.server).list_metrics(Namespace="Hosted")["Metrics"], [])
        # nothing addressed to monitoring.* or kinesis.* falls through to S3
        resp = raw_request(self.server.port, "GET", "/", b"", {"Host": "monitoring.us-east-1.amazonaws.com"})
        self.assertXmlError(resp, "MissingAction")
        resp = raw_request(self.server.port, "POST", "/", b"{}",
                           {**auth, "Host": "kinesis.eu-west-1.amazonaws.com", "Content-Type": "text/plain"})
        self.assertEqual(resp.status, 400)
        self.assertEqual(resp.json()["__type"], "UnknownOperationException")

    def test_health_lists_cloudwatch(self):
        resp = raw_request(self.server.port, "GET", "/_tidepool/health")
        self.assertEqual(resp.json()["services"]["cloudwatch"], "running")


class DebianBoto3Test(CloudWatchCase):
    """Debian's python3-boto3 (apt), whose botocore predates CloudWatch's JSON protocols."""

    SCRIPT = r"""
import boto3, datetime, json, sys
c = boto3.client("cloudwatch", endpoint_url=sys.argv[1], region_name="us-east-1")
base = datetime.datetime.fromisoformat(sys.argv[2])
dims = [{"Name": "StreamName", "Value": "beam-workshop"}, {"Name": "Borough", "Value": "Bronx"}]
c.put_metric_data(Namespace="Debian", MetricData=[
    {"MetricName": "Number of Trips", "Dimensions": dims, "Timestamp": base + datetime.timedelta(seconds=s),
     "Value": v, "Unit": "Count", "StorageResolution": 1} for s, v in ((1, 2.0), (1, 3.0), (61, 10.0))])
out = {"version": boto3.__version__, "protocol": c.meta.service_model.protocol}
out["listed"] = c.list_metrics(Namespace="Debian", Dimensions=[{"Name": "Borough", "Value": "Bronx"}])["Metrics"]
for period in (1, 60):
    r = c.get_metric_statistics(Namespace="Debian", MetricName="Number of Trips", Dimensions=dims,
                                StartTime=base, EndTime=base + datetime.timedelta(seconds=120), Period=period,
                                Statistics=["Sum", "Average", "SampleCount", "Minimum", "Maximum"])
    out[str(period)] = sorted([int((d["Timestamp"] - base).total_seconds()), d["Sum"], d["Average"],
                               d["SampleCount"], d["Minimum"], d["Maximum"]] for d in r["Datapoints"])
try:
    c.put_metric_data(Namespace="Debian", MetricData=[{"MetricName": "m", "Value": 1, "StorageResolution": 2}])
except c.exceptions.InvalidParameterValueException as e:
    out["error"] = [e.response["Error"]["Code"], e.response["Error"]["Message"]]
print(json.dumps(out))
"""

    def test_debian_boto3_speaks_awsquery(self):
        probe = subprocess.run([DEBIAN_PYTHON, "-c", "import boto3"], capture_output=True) \
            if os.path.exists(DEBIAN_PYTHON) else None
        if not probe or probe.returncode:
            self.skipTest("Debian's python3-boto3 is not installed (apt-get install python3-boto3)")
        base = minute_ago(4)
        run = subprocess.run([DEBIAN_PYTHON, "-c", self.SCRIPT, self.server.endpoint, base.isoformat()],
                             capture_output=True, text=True, timeout=60, env=harness.isolated_aws_env())
        self.assertEqual(run.returncode, 0, run.stderr)
        out = json.loads(run.stdout)
        self.assertEqual(out["protocol"], "query", out["version"])
        self.assertEqual([m["MetricName"] for m in out["listed"]], ["Number of Trips"])
        self.assertEqual(out["1"], [[1, 5.0, 2.5, 2.0, 2.0, 3.0], [61, 10.0, 10.0, 1.0, 10.0, 10.0]])
        self.assertEqual(out["60"], [[0, 5.0, 2.5, 2.0, 2.0, 3.0], [60, 10.0, 10.0, 1.0, 10.0, 10.0]])
        self.assertEqual(out["error"], ["InvalidParameterValue", "The parameter MetricData.member.1.StorageResolution "
                                                                 "must be a value in the set [ 1, 60 ]."])


class RestartTest(CloudWatchCase):
    def test_data_survives_restart_and_kill9(self):
        base = minute_ago(6)
        dims = [{"Name": "StreamName", "Value": "s"}]
        for graceful in (True, False):
            client = cw_client(self.server, "query")
            client.put_metric_data(Namespace="Durable", MetricData=[
                {"MetricName": "m", "Dimensions": dims, "Timestamp": base, "Value": 5, "StorageResolution": 1}])
            self.server.restart(graceful=graceful)
            client = cw_client(self.server)
            self.assertEqual([m["MetricName"] for m in client.list_metrics(Namespace="Durable")["Metrics"]], ["m"])
            points = client.get_metric_statistics(Namespace="Durable", MetricName="m", Dimensions=dims, StartTime=base,
                                                  EndTime=base + datetime.timedelta(seconds=1), Period=1,
                                                  Statistics=["SampleCount", "Sum"])["Datapoints"]
            self.assertEqual([(p["SampleCount"], p["Sum"]) for p in points], [(1, 5)] if graceful else [(2, 10)])


if __name__ == "__main__":
    harness.main()
