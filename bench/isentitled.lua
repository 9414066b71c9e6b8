-- wrk script for the isEntitledTo throughput benchmark (bench/run.py drives it).
--
-- Every request is a POST /graphql with the same query document and different variables: the
-- bodies are read from the file named by ENTITLE_BENCH_BODIES (one JSON body per line, built by
-- run.py from (tenantKey, userKey, featureKey) triples); each wrk thread starts at its own offset
-- and cycles through them. ENTITLE_BENCH_TOKEN is sent as the bearer token.
-- done() prints one line "WRK_JSON {...}" with counts and latency percentiles in microseconds.

local bodies = {}
local index = 0
local next_thread_id = 0

wrk.method = "POST"
wrk.path = "/graphql"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("ENTITLE_BENCH_TOKEN") or "")

function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
end

function init(args)
  local path = os.getenv("ENTITLE_BENCH_BODIES")
  assert(path, "ENTITLE_BENCH_BODIES is not set")
  for line in io.lines(path) do
    if #line > 0 then
      bodies[#bodies + 1] = line
    end
  end
  assert(#bodies > 0, "no request bodies in " .. path)
  index = ((thread_id or 0) * 7919) % #bodies
end

function request()
  index = index % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[index])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
