-- wrk script: posts one alert per request, cycling through ALERTS alerts spread over GROUPS
-- groups (alert i is in group i % GROUPS), as an Alertmanager webhook (TARGET=klaxon, to
-- Klaxon's /v1/integrations/alertmanager) or as Alertmanager's own API (TARGET=alertmanager,
-- POST /api/v2/alerts). The same stream either way: alert i has labels alertname=storm-<group>,
-- cluster=bench, instance=host-<i>. `done` prints one JSON line with the counts and latency
-- percentiles the benchmark reads.

local target = os.getenv("TARGET") or "klaxon"
local alerts = tonumber(os.getenv("ALERTS") or "1000")
local groups = tonumber(os.getenv("GROUPS") or "100")
local key = os.getenv("KEY") or ""
local offset = tonumber(os.getenv("OFFSET") or "0")
local nthreads = tonumber(os.getenv("THREADS") or "2")

local bodies = {}
for i = 0, alerts - 1 do
  local n = i + offset
  local labels = string.format(
    '{"alertname":"storm-%d","cluster":"bench","instance":"host-%d","severity":"critical"}',
    n % groups, n)
  local annotations = string.format('{"summary":"storm alert %d"}', n)
  if target == "alertmanager" then
    bodies[i + 1] = string.format(
      '[{"labels":%s,"annotations":%s,"generatorURL":"http://bench/%d"}]',
      labels, annotations, n)
  else
    bodies[i + 1] = string.format(
      '{"receiver":"klaxon","status":"firing","alerts":[{"status":"firing","labels":%s,' ..
      '"annotations":%s,"startsAt":"2026-12-04T00:00:00Z","endsAt":"0001-01-01T00:00:00Z",' ..
      '"generatorURL":"http://bench/%d","fingerprint":"f%015d"}],"groupLabels":{},' ..
      '"commonLabels":{},"commonAnnotations":{},"externalURL":"http://bench","version":"4",' ..
      '"groupKey":"bench"}',
      labels, annotations, n, n)
  end
end

local path = target == "alertmanager" and "/api/v2/alerts" or "/v1/integrations/alertmanager"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  -- Each thread walks the stream from its own starting point, so the first pass sends every
  -- alert once whatever the thread count.
  counter = id * math.floor(alerts / nthreads)
  non2xx = 0
end

function request()
  counter = counter + 1
  return wrk.format(nil, path, nil, bodies[(counter % alerts) + 1])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + (thread:get("non2xx") or 0)
  end
  io.write(string.format(
    '{"requests":%d,"non2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"timeouts":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, failed, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max))
end
