-- wrk script of the check-in bench (bench/checkin/run.py starts wrk with it).
--
--   wrk -t1 -c64 -d600s --latency -s bench/checkin/checkin.lua \
--       http://127.0.0.1:PORT/api/v1/checkins -- LINES_FILE THREADS EXPECTED_STATUS
--
-- (with several instances: BENCH_WRK_PORTS="P1 P2 ..." wrk -tN ... -- LINES_FILE N STATUS)
--
-- LINES_FILE holds one request per line, "<access token>\t<idempotency key>\t<JSON body>",
-- optionally followed by "\t<path>" (with its query) to send it to instead of the URL's path.
-- Each line is POSTed exactly once (thread i of THREADS takes lines i, i+THREADS, ...): once
-- a thread has handed out its lines, delay() parks its connections, and when its last
-- response has arrived it prints "DONE" and stops. The caller then ends wrk with SIGINT, so
-- that wrk's duration (and its requests/s) covers the requests and nothing after them.
--
-- With LINES_FILE "-" the script sends wrk's plain GET of the URL for the whole duration
-- (the trivial endpoint); request() and delay() are removed so that wrk uses its static
-- request.
--
-- Either way, responses whose status is not EXPECTED_STATUS are counted (with the first few
-- bodies kept), and done() prints one line "RESULT <json>" that the caller parses.

local threads = {}

-- Several server instances (run.py --instances N): BENCH_WRK_PORTS lists their ports on
-- 127.0.0.1, and thread i connects to port i (mod N), with wrk's -t equal to N and the
-- connections split evenly between threads; the URL's own port is then not used.
local ports = {}
for port in (os.getenv("BENCH_WRK_PORTS") or ""):gmatch("%d+") do
  table.insert(ports, port)
end

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
  if #ports > 0 then
    thread.addr = wrk.lookup("127.0.0.1", ports[(#threads - 1) % #ports + 1])[1]
  end
end

local lines = {}
local total = 0
local granted = 0
local sent = 0
local expected = 200

-- Read by done() through thread:get().
received = 0
statuses = {}
unexpected = 0
first_errors = {}

function init(args)
  local path = args[1] or "-"
  local nthreads = tonumber(args[2] or "1")
  expected = tonumber(args[3] or "200")
  if path == "-" then
    request = nil
    delay = nil
    return
  end
  local index = 0
  for line in io.lines(path) do
    index = index + 1
    if (index - 1) % nthreads == tid - 1 then
      local token, key, body, target = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t?([^\t]*)$")
      if not token then
        error("bad line " .. index .. " in " .. path)
      end
      if target == "" then
        target = nil
      end
      total = total + 1
      lines[total] = wrk.format("POST", target, {
        ["Authorization"] = "Bearer " .. token,
        ["Content-Type"] = "application/json",
        ["Idempotency-Key"] = key,
      }, body)
    end
  end
  if total == 0 then
    error("no requests for thread " .. tid)
  end
end

function delay()
  if granted < total then
    granted = granted + 1
    return 0
  end
  return 3600000 -- all lines handed out: park the connection until the thread stops
end

function request()
  if granted == 0 then
    -- wrk calls request() once before starting, only to check the request; that one is
    -- never sent, so it must not use up a line.
    return lines[1]
  end
  sent = sent + 1
  return lines[sent]
end

function response(status, headers, body)
  received = received + 1
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= expected then
    unexpected = unexpected + 1
    if #first_errors < 5 then
      table.insert(first_errors, status .. " " .. (body or ""):sub(1, 600))
    end
  end
  if total > 0 and received == total then
    io.write("DONE\n")
    io.flush()
    wrk.thread:stop()
  end
end

local function quote(text)
  local escaped = text:gsub('[%c"\\]', function(c)
    if c == '"' then
      return '\\"'
    elseif c == "\\" then
      return "\\\\"
    end
    return string.format("\\u%04x", c:byte())
  end)
  return '"' .. escaped .. '"'
end

function done(summary, latency, requests)
  local counts, errors, received_all, unexpected_all = {}, {}, 0, 0
  for _, thread in ipairs(threads) do
    received_all = received_all + thread:get("received")
    unexpected_all = unexpected_all + thread:get("unexpected")
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
    for _, text in ipairs(thread:get("first_errors")) do
      table.insert(errors, quote(text))
    end
  end
  local statuses_json = {}
  for status, n in pairs(counts) do
    table.insert(statuses_json, string.format('"%d": %d', status, n))
  end
  local percentiles = {}
  for _, p in ipairs({ 50, 75, 90, 95, 99, 99.9 }) do
    table.insert(percentiles, string.format('"%s": %d', tostring(p), latency:percentile(p)))
  end
  local e = summary.errors
  io.write(
    "RESULT ",
    string.format(
      '{"duration_us": %d, "requests": %d, "bytes": %d, "responses": %d, "unexpected": %d, '
        .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
        .. '"latency_us": {"min": %d, "max": %d, "mean": %.1f, "stdev": %.1f, %s}, '
        .. '"statuses": {%s}, "first_errors": [%s]}',
      summary.duration,
      summary.requests,
      summary.bytes,
      received_all,
      unexpected_all,
      e.connect,
      e.read,
      e.write,
      e.status,
      e.timeout,
      latency.min,
      latency.max,
      latency.mean,
      latency.stdev,
      table.concat(percentiles, ", "),
      table.concat(statuses_json, ", "),
      table.concat(errors, ", ")
    ),
    "\n"
  )
end
