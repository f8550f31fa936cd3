-- Shared by the bench scripts: a monotonic clock, a fixed number of requests per thread
-- (wrk itself only knows durations) and one result line "BENCH {json}" that clients.py parses.
--
-- Counted scripts take the arguments: MARKER_DIR TOTAL THREADS ...; each thread owns an equal
-- share of TOTAL units, stops after its last response and then leaves a file in MARKER_DIR, so
-- the caller can end wrk (SIGINT) as soon as every thread is done.
-- wrk calls request() once more than it sends, to check the script, so request() must derive
-- the next request from the responses received so far and change nothing itself.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")

bench = {}

function bench.now()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
   return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

-- Main state: number the threads and keep them for done().
local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

-- Thread state: headers of every request (Host and -H Authorization from the command line).
function bench.headers(extra)
   local headers = {}
   for name, value in pairs(wrk.headers) do
      headers[name] = value
   end
   for name, value in pairs(extra or {}) do
      headers[name] = value
   end
   return headers
end

-- Thread state: this thread's share of the work, in responses (units * per_unit).
function bench.init_counted(args, per_unit)
   marker_dir = args[1]
   local total, nthreads = tonumber(args[2]), tonumber(args[3])
   local units = math.floor(total / nthreads)
   if id <= total % nthreads then
      units = units + 1
   end
   budget = units * per_unit
   responses, unexpected, first_unexpected = 0, 0, ""
end

function bench.sent(method)
   t_start = t_start or bench.now()
   last_method = method
end

function bench.received(status, ok)
   responses = responses + 1
   if not ok then
      unexpected = unexpected + 1
      if first_unexpected == "" then
         first_unexpected = last_method .. " " .. status
      end
   end
   if responses == budget then
      t_end = bench.now()
      local marker = io.open(marker_dir .. "/done-" .. id, "w")
      marker:close()
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local first, last, counted, bad, first_bad = nil, nil, 0, 0, ""
   for _, thread in ipairs(threads) do
      local started, ended = thread:get("t_start"), thread:get("t_end")
      if started and (not first or started < first) then first = started end
      if ended and (not last or ended > last) then last = ended end
      counted = counted + (thread:get("responses") or 0)
      bad = bad + (thread:get("unexpected") or 0)
      if first_bad == "" then first_bad = thread:get("first_unexpected") or "" end
   end
   local elapsed = summary.duration / 1e6
   if first and last then elapsed = last - first end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests": %d, "elapsed_s": %.6f, "responses": %d, ' ..
      '"unexpected": %d, "first_unexpected": "%s", "p50_ms": %.3f, "p99_ms": %.3f, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}}\n',
      summary.requests, elapsed, counted, bad, first_bad,
      latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
      e.connect, e.read, e.write, e.timeout, e.status))
end
