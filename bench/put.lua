-- wrk script for bench/kinesis.sh: replays pre-built Kinesis JSON bodies.
-- Environment: BENCH_TARGET (operation, e.g. PutRecords), BENCH_FILES (body
-- file prefix: <prefix>0.json, <prefix>1.json, ...), BENCH_COUNT (how many).
-- Each thread cycles through the bodies, starting at a different one.
-- done() prints one machine-readable WRKRESULT line.

local target = os.getenv("BENCH_TARGET")
local prefix = os.getenv("BENCH_FILES")
local count = tonumber(os.getenv("BENCH_COUNT"))
local reqs = {}
local n = 0
local thread_no = 0

function setup(thread)
  thread:set("thread_no", thread_no)
  thread_no = thread_no + 1
end

function init(args)
  local headers = {
    ["X-Amz-Target"] = "Kinesis_20131202." .. target,
    ["Content-Type"] = "application/x-amz-json-1.1",
    ["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, " ..
                        "SignedHeaders=host;x-amz-date, Signature=00",
    ["X-Amz-Date"] = "20260101T000000Z",
  }
  for i = 0, count - 1 do
    local f = assert(io.open(prefix .. i .. ".json", "rb"))
    local body = f:read("*a")
    f:close()
    reqs[i + 1] = wrk.format("POST", "/", headers, body)
  end
  n = (thread_no * 7) % count
end

function request()
  n = n % count + 1
  return reqs[n]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKRESULT requests=%d duration_us=%d non2xx=%d connect_err=%d read_err=%d write_err=%d timeouts=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
