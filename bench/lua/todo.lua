-- wrk script for the todo-api benchmark (driven by bench/bench.py).
--
--   wrk -c 64 -t 2 -d 10s --latency -s bench/lua/todo.lua http://127.0.0.1:PORT -- MODE DATA_DIR [count]
--
-- MODE: list | get | create | patch | login | live | soak
-- DATA_DIR holds the files bench.py writes:
--   tokens.tsv   one line per load user: "<access token>\t<todo id>,<todo id>,..."
--   users.tsv    one line per seeded user: "<email>\t<password>"
-- "count" (optional third argument) counts responses per HTTP status, reported in
-- `statuses` (costs a Lua call per response, so it is only on where 503s matter).
--
-- Every request is built once in init() and picked at random per request, so the
-- Lua cost per request is one table lookup. done() prints one line
-- "BENCH_JSON {...}" with throughput, latency percentiles (microseconds) and errors.

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

local function read_lines(path)
   local f = assert(io.open(path, "r"), "cannot open " .. path)
   local lines = {}
   for line in f:lines() do
      if #line > 0 then
         table.insert(lines, line)
      end
   end
   f:close()
   return lines
end

local function split(s, sep)
   local out = {}
   for part in string.gmatch(s, "([^" .. sep .. "]+)") do
      table.insert(out, part)
   end
   return out
end

local function auth(token, extra)
   local h = { ["Authorization"] = "Bearer " .. token }
   if extra then
      for k, v in pairs(extra) do h[k] = v end
   end
   return h
end

local json_headers = { ["Content-Type"] = "application/json" }

-- Builders: each returns a list of ready request strings.
local builders = {}

local function load_tokens(dir)
   local users = {}
   for _, line in ipairs(read_lines(dir .. "/tokens.tsv")) do
      local cols = split(line, "\t")
      table.insert(users, { token = cols[1], todos = split(cols[2] or "", ",") })
   end
   return users
end

builders.list = function(dir)
   local reqs = {}
   for _, u in ipairs(load_tokens(dir)) do
      table.insert(reqs, wrk.format("GET", "/api/v1/todos?limit=20", auth(u.token)))
   end
   return reqs
end

builders.get = function(dir)
   local reqs = {}
   for _, u in ipairs(load_tokens(dir)) do
      for _, id in ipairs(u.todos) do
         table.insert(reqs, wrk.format("GET", "/api/v1/todos/" .. id, auth(u.token)))
      end
   end
   return reqs
end

builders.create = function(dir)
   local reqs = {}
   local body = '{"title":"Bench todo","description":"Created by the benchmark","priority":"medium"}'
   for _, u in ipairs(load_tokens(dir)) do
      table.insert(reqs, wrk.format("POST", "/api/v1/todos", auth(u.token, json_headers), body))
   end
   return reqs
end

builders.patch = function(dir)
   local reqs = {}
   local bodies = {
      '{"priority":"high","description":"Patched by the benchmark"}',
      '{"priority":"low","is_completed":true}',
      '{"priority":"medium","is_completed":false}',
   }
   for _, u in ipairs(load_tokens(dir)) do
      for i, id in ipairs(u.todos) do
         local body = bodies[(i % #bodies) + 1]
         table.insert(reqs, wrk.format("PATCH", "/api/v1/todos/" .. id, auth(u.token, json_headers), body))
      end
   end
   return reqs
end

builders.login = function(dir)
   local reqs = {}
   for _, line in ipairs(read_lines(dir .. "/users.tsv")) do
      local cols = split(line, "\t")
      local body = '{"email":"' .. cols[1] .. '","password":"' .. cols[2] .. '"}'
      table.insert(reqs, wrk.format("POST", "/api/v1/auth/login", json_headers, body))
   end
   return reqs
end

builders.live = function(dir)
   return { wrk.format("GET", "/health/live") }
end

-- The soak mix: 50% list, 30% get, 10% create, 10% patch (logins run in a second wrk).
builders.soak = function(dir)
   local reqs = {}
   local function add(list, times)
      for _ = 1, times do
         for _, r in ipairs(list) do table.insert(reqs, r) end
      end
   end
   local list, get, create, patch = builders.list(dir), builders.get(dir), builders.create(dir), builders.patch(dir)
   -- get and patch have (todos per user) requests per user; list and create one.
   local per_user = math.max(1, math.floor(#get / math.max(1, #list)))
   add(list, 5 * per_user)
   add(get, 3)
   add(create, 1 * per_user)
   add(patch, 1)
   return reqs
end

local requests = nil
local nreq = 0
statuses = {}

function init(args)
   local mode, dir, count = args[1], args[2], args[3]
   assert(builders[mode], "unknown mode " .. tostring(mode))
   requests = builders[mode](dir)
   nreq = #requests
   assert(nreq > 0, "no requests built for mode " .. mode)
   math.randomseed(os.time() * 1000 + (id or 0) * 7919)
   if count == "count" then
      response = function(status, headers, body)
         statuses[status] = (statuses[status] or 0) + 1
      end
   end
end

function request()
   return requests[math.random(nreq)]
end

function done(summary, latency, requests_stats)
   local merged = {}
   for _, t in ipairs(threads) do
      local s = t:get("statuses")
      if s then
         for code, n in pairs(s) do
            merged[code] = (merged[code] or 0) + n
         end
      end
   end
   local parts = {}
   for code, n in pairs(merged) do
      table.insert(parts, string.format('"%d":%d', code, n))
   end
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_s":%.3f,"rps":%.2f,"bytes":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"statuses":{%s}}\n',
      summary.requests, secs, summary.requests / secs, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
      e.connect, e.read, e.write, e.status, e.timeout,
      table.concat(parts, ",")))
end
