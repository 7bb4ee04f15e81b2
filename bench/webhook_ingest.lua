-- wrk script for bench/webhook_ingest.py: cycles through requests prepared by the bench (wrk's
-- Lua has no HMAC or RSA, so signing and encryption happen there, before the round).
-- Arguments after "--": KIND FILE. KIND "zoom": each line is timestamp, signature and body,
-- tab-separated; KIND "graph": each line is a notification body.
-- The requests are formatted once in init(), so that wrk's thread spends its time on sockets.

local requests = {}
local count = 0
local index = 0

function init(args)
  local kind, file = args[1], args[2]
  for line in io.lines(file) do
    local headers = { ["Content-Type"] = "application/json" }
    local body = line
    if kind == "zoom" then
      local ts, signature, rest = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      headers["x-zm-request-timestamp"] = ts
      headers["x-zm-signature"] = signature
      body = rest
    end
    count = count + 1
    requests[count] = wrk.format("POST", nil, headers, body)
  end
  if count == 0 then
    error("no requests in " .. file)
  end
end

-- A paced round (WRK_PACE_MS set by the bench): each connection waits a random 0 to 2x that
-- many milliseconds before each request, so C connections offer about C / pace requests a
-- second, spread out, instead of sending the moment an answer came. Defined only then: wrk
-- arms a timer per request for any script that has a delay().
local pace = tonumber(os.getenv("WRK_PACE_MS") or "")
if pace and pace > 0 then
  function delay()
    return math.floor(math.random() * 2 * pace + 0.5)
  end
end

function request()
  index = index % count + 1
  return requests[index]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
