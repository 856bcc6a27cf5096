-- wrk: each signed delivery of the file in BENCH_DELIVERIES ("timestamp
-- signature body" lines, tests/bench/webhook.mjs) sent once, then stop.
-- Prints "webhook <deliveries/s> <p50 ms> <p99 ms> <202s applied> <others> <fillers>".
local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	reqs = {}
	n202, others, fillers, sent = 0, 0, 0, 0
	for line in io.lines(os.getenv("BENCH_DELIVERIES")) do
		local ts, sig, body = line:match("^(%d+) (%x+) (.*)$")
		if ts then
			reqs[#reqs + 1] = wrk.format("POST", wrk.path, {
				["Content-Type"] = "application/json", ["X-Shkeeper-Api-Key"] = "bench",
				["X-Shkeeper-Timestamp"] = ts, ["X-Shkeeper-Signature"] = sig }, body)
		end
	end
	-- Once every delivery is out, the connections still open ask for nothing that moves money.
	filler = wrk.format("GET", "/api/payment/health")
end

function request()
	sent = sent + 1
	if sent > #reqs then
		wrk.thread:stop()
		return filler
	end
	return reqs[sent]
end

function response(status, headers, body)
	-- A 202 counts only when it says the delivery was applied (moved its payment).
	if status == 202 and body:find('"outcome":"applied"', 1, true) then
		n202 = n202 + 1
	elseif status == 200 then
		fillers = fillers + 1
	else
		others = others + 1
	end
end

function done(summary, latency, requests)
	local a, b, c = 0, 0, 0
	for _, t in ipairs(threads) do
		a = a + t:get("n202")
		b = b + t:get("others")
		c = c + t:get("fillers")
	end
	io.write(string.format("webhook %.0f %.2f %.2f %d %d %d\n", (a + b) / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000, a, b, c))
end
