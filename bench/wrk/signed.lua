-- wrk script for bench/run.sh: sends pre-generated, distinct, validly signed
-- webhooks (one unique signed id each) and counts every non-2xx answer.
-- Any 2xx is success: 200 from a forwarding proxy, 202 ("queued") from
-- hookguard in queue mode; 202s are also counted on their own ("acked").
--
--   wrk -t1 -c64 -d10s -s bench/wrk/signed.lua http://127.0.0.1:PORT -- DATA BODY
--
-- DATA: first line "<path> <timestamp>", then one "<id> <hex signature>" per
-- request, every such line the same length; BODY: the JSON body shared by all
-- requests (the id, which is signed together with timestamp and body, makes
-- each request distinct). The run never wraps around: once the list is used
-- up, it sends a request without a signature, which the proxy refuses (counted
-- as non-2xx and as "exhausted"), so a too-short list can never pass for
-- duplicates.
--
-- The records stay in the one string they were read into, found by offset:
-- a table of hundreds of thousands of id and signature strings would be
-- marked by every garbage collection, and with a 64 KiB request string made
-- per request LuaJIT collects often; that marking made wrk, not the proxy,
-- the bottleneck at 64 KiB.

local records, first_record, record_len, id_len
local n, i = 0, 0
local path, ts, body, head
non2xx = 0
acked = 0
exhausted = 0
statuses = ""

function init(args)
  local datafile, bodyfile = args[1], args[2]
  local f = assert(io.open(bodyfile, "rb"))
  body = f:read("*a")
  f:close()
  f = assert(io.open(datafile, "rb"))
  records = f:read("*a")
  f:close()
  local header_end = assert(records:find("\n", 1, true), "empty request list")
  path, ts = records:sub(1, header_end - 1):match("^(%S+) (%S+)$")
  assert(path, "first line is not '<path> <timestamp>'")
  first_record = header_end + 1
  local first_end = records:find("\n", first_record, true)
  if first_end then
    record_len = first_end - first_record + 1
    id_len = assert(records:find(" ", first_record, true), "record without a space") - first_record
    assert((#records - header_end) % record_len == 0, "records are not all the same length")
    n = (#records - header_end) / record_len
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
  local at = first_record + (i - 1) * record_len
  return head .. "X-Event-Id: " .. records:sub(at, at + id_len - 1)
    .. "\r\nX-Signature: " .. records:sub(at + id_len + 1, at + record_len - 2)
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
