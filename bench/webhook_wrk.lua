-- wrk script: replays pre-signed deliveries in order for the run's duration (wrk is
-- duration-bound; the benchmark writes more deliveries than the duration can send).
-- Request files are written by bench/webhook_throughput.py: "<dir>/thread-<n>.txt" holds one
-- request per line as "path\tsignature\ttimestamp\tbody".
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local dir = args[1]
  requests, sent, answered, ok = {}, 0, 0, 0
  for line in io.lines(dir .. "/thread-" .. id .. ".txt") do
    local path, sig, ts, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {
      ["Content-Type"] = "application/json",
      ["X-HubSpot-Signature-v3"] = sig,
      ["X-HubSpot-Request-Timestamp"] = ts,
      ["X-HubSpot-Signature-Version"] = "v3",
    }
    table.insert(requests, wrk.format("POST", path, headers, body))
  end
  total = #requests
end

function request()
  sent = sent + 1
  -- Past the slice, wrap around: the receiver answers those as duplicates.
  return requests[(sent - 1) % total + 1]
end


-- Every answer is counted by status class: a refusal is not throughput. `sent` - answered is
-- what was still in flight when wrk stopped (the server may have committed those).
function response(status, headers, body)
  answered = answered + 1
  if status >= 200 and status < 300 then
    ok = (ok or 0) + 1
  end
end

function done_summary()
  local sent_all, done_all, ok_all = 0, 0, 0
  for _, t in ipairs(threads) do
    sent_all = sent_all + (t:get("sent") or 0)
    done_all = done_all + (t:get("answered") or 0)
    ok_all = ok_all + (t:get("ok") or 0)
  end
  io.write(string.format("BENCH sent=%d answered=%d ok2xx=%d\n", sent_all, done_all, ok_all))
end

function done(summary, latency, requests)
  done_summary()
end
