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
  requests, sent, done = {}, 0, 0
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

