// KPL-aggregated Kinesis records made by the npm package aws-kinesis-agg (the
// aggregation format the Kinesis Producer Library writes), for
// tests/integration/test_firehose_engine.py.
//
//   stdin:  JSON [[{"partitionKey": "...", "data": "<base64>"}, ...], ...]
//           one inner array per aggregated record to build
//   stdout: JSON [{"partitionKey": "...", "data": "<base64>"}, ...]
//           one aggregated record per inner array, in order; partitionKey is
//           the one aws-kinesis-agg chose for the outer record
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const { RecordAggregator } = require("aws-kinesis-agg");

const groups = JSON.parse(readFileSync(0, "utf8"));
const out = groups.map((group) => {
  const agg = new RecordAggregator();
  for (const r of group) {
    const rec = { partitionKey: r.partitionKey, data: Buffer.from(r.data, "base64") };
    if (!agg.checkIfUserRecordFits(rec)) throw new Error("user records do not fit one aggregated record");
    agg.addUserRecord(rec);
  }
  const built = agg.build();
  return { partitionKey: built.partitionKey, data: Buffer.from(built.data).toString("base64") };
});
process.stdout.write(JSON.stringify(out) + "\n");
