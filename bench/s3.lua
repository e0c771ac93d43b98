-- wrk script for bench/s3.sh: path-style S3 PUT or GET of small objects.
-- Environment:
--   S3_MODE    put | get
--   S3_BUCKET  bucket name
--   S3_BYTES   object size for put (random bytes, the same body for every key)
--   S3_KEYS    file of per-thread key counts: put writes it in done(), get
--              reads it ("<thread> <count>" lines)
-- put: thread t PUTs unique keys w<t>-<n>, n = 0, 1, 2, ... (one counter per
--      thread, shared by its connections).
-- get: each request GETs a random key among those put; the last MARGIN keys
--      of each thread are skipped (they may have been in flight when the put
--      run stopped, so they may not exist), and so is key 0: wrk calls
--      request() once in thread 0's state to check it (script_verify_request)
--      and never sends that request, so w0-0 does not exist.
-- done() prints one machine-readable WRKRESULT line.

local mode = os.getenv("S3_MODE")
local bucket = os.getenv("S3_BUCKET")
local bytes = tonumber(os.getenv("S3_BYTES") or "1024")
local keys_file = os.getenv("S3_KEYS")
-- "Authorization: ..." (bench/s3.sh): S3 refuses anonymous requests
local auth = os.getenv("S3_AUTH"):match("^Authorization: (.*)$")
local MARGIN = 64

-- globals, not locals: setup() sets thread_no in each thread's Lua state and
-- done() reads n back from it
local threads = {}
local next_thread = 0
thread_no = 0
n = 0

function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

local body
local headers
local counts = {}   -- get: { {thread, count}, ... } with count > 0

function init(args)
  if mode == "put" then
    local f = assert(io.open("/dev/urandom", "rb"))
    body = f:read(bytes)
    f:close()
    headers = {
      ["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD",
      ["Content-Type"] = "application/octet-stream",
      ["Authorization"] = auth,
    }
  else
    headers = {["Authorization"] = auth}
    for line in io.lines(keys_file) do
      local t, c = line:match("^(%d+) (%d+)$")
      c = tonumber(c) - MARGIN
      if c > 1 then table.insert(counts, { tonumber(t), c }) end
    end
    assert(#counts > 0, "no keys to GET in " .. keys_file)
    math.randomseed(os.time() + thread_no * 7919)
  end
end

function request()
  if mode == "put" then
    local path = string.format("/%s/w%d-%d", bucket, thread_no, n)
    n = n + 1
    return wrk.format("PUT", path, headers, body)
  end
  local e = counts[math.random(#counts)]
  return wrk.format("GET", string.format("/%s/w%d-%d", bucket, e[1], math.random(1, e[2] - 1)), headers)
end

function done(summary, latency, requests)
  if mode == "put" and keys_file then
    local f = assert(io.open(keys_file, "w"))
    for _, t in ipairs(threads) do
      f:write(string.format("%d %d\n", t:get("thread_no"), t:get("n")))
    end
    f:close()
  end
  local e = summary.errors
  io.write(string.format(
    "WRKRESULT requests=%d duration_us=%d non2xx=%d connect_err=%d read_err=%d write_err=%d timeouts=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
