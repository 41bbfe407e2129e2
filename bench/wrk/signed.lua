-- wrk script for bench/run.sh: sends pre-generated, distinct, validly signed
-- webhooks (one unique signed id each) and counts every non-2xx answer.
-- Any 2xx is success: 200 from a forwarding proxy, 202 ("queued") from
-- hookguard in queue mode; 202s are also counted on their own ("acked").
--
--   wrk -t1 -c64 -d10s -s bench/wrk/signed.lua http://127.0.0.1:PORT -- DATA BODY
--
-- DATA: first line "<path> <timestamp>", then one "<id> <hex signature>" per
-- request; BODY: the JSON body shared by all requests (the id, which is
-- signed together with timestamp and body, makes each request distinct).
-- The run never wraps around: once the list is used up, it sends a request
-- without a signature, which the proxy refuses (counted as non-2xx and as
-- "exhausted"), so a too-short list can never pass for duplicates.

local ids, sigs = {}, {}
local n, i = 0, 0
local path, ts, body, head
non2xx = 0
acked = 0
exhausted = 0
statuses = ""

function init(args)
  local data, bodyfile = args[1], args[2]
  local f = assert(io.open(bodyfile, "rb"))
  body = f:read("*a")
  f:close()
  local first = true
  for line in io.lines(data) do
    if first then
      path, ts = line:match("^(%S+) (%S+)$")
      first = false
    else
      n = n + 1
      ids[n], sigs[n] = line:match("^(%S+) (%S+)$")
    end
  end
  head = "POST " .. path .. " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    .. "Content-Type: application/json\r\nContent-Length: " .. #body
    .. "\r\nX-Timestamp: " .. ts .. "\r\n"
end

function request()
  i = i + 1
  if i > n then
    exhausted = exhausted + 1
    return head .. "\r\n" .. body
  end
  return head .. "X-Event-Id: " .. ids[i] .. "\r\nX-Signature: " .. sigs[i]
    .. "\r\n\r\n" .. body
end

local seen = {}
function response(status, headers, rbody)
  if status == 202 then
    acked = acked + 1
  end
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if not seen[status] then
      seen[status] = true
      statuses = statuses .. " " .. status
    end
  end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local bad, ack, ex, st = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    bad = bad + t:get("non2xx")
    ack = ack + t:get("acked")
    ex = ex + t:get("exhausted")
    st = st .. t:get("statuses")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d acked=%d exhausted=%d "
      .. "sock_errors=%d statuses=[%s]\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    bad, ack, ex, e.connect + e.read + e.write + e.timeout, st))
end
