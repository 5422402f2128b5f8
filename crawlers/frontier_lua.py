"""Lua scripts of the Redis frontier: every state change is one atomic script."""
from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

# Every script gets the key prefix as ARGV[1] and builds its keys from it (standalone Redis,
# not Redis Cluster). Clock: Redis TIME only. Request payloads are never re-encoded in Lua
# (cjson would turn [] into {} and round numbers): entries are decoded only to be read.
COMMON = r"""
local P = ARGV[1]
local function now_()
  local t = redis.call("TIME")
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format("%.6f", x) end
local function run_key(rid) return P .. ":run:" .. rid end
local function next_allowed(host) return tonumber(redis.call("HGET", P .. ":next", host)) or 0 end

-- place a host in the ready set from the state of its queues (or drop it when it has none)
local function host_score(host, na)
  if redis.call("LLEN", P .. ":q:" .. host) > 0 then
    redis.call("ZADD", P .. ":ready", fmt(na), host)
    return
  end
  local d = redis.call("ZRANGE", P .. ":delayed:" .. host, 0, 0, "WITHSCORES")
  if #d > 0 then
    redis.call("ZADD", P .. ":ready", fmt(math.max(na, tonumber(d[2]))), host)
  else
    redis.call("ZREM", P .. ":ready", host)
  end
end

local function poison(payload, reason, host, now)
  local head = cjson.encode({reason = reason, host = host, at = now})
  redis.call("LPUSH", P .. ":poison", head .. "\n" .. payload)
  redis.call("LTRIM", P .. ":poison", 0, 999)
  redis.call("HINCRBY", P .. ":counters", "poisoned", 1)
end

local function end_run(rid, status, reason, now)
  local rk = run_key(rid)
  redis.call("HSET", rk, "status", status, "ended_at", fmt(now))
  if reason then redis.call("HSET", rk, "reason", reason) end
  local site = redis.call("HGET", rk, "site") or ""
  if redis.call("HGET", P .. ":active", site) == rid then redis.call("HDEL", P .. ":active", site) end
  redis.call("DEL", rk .. ":seen", rk .. ":emitted")
  local etype = "run_end"
  if status ~= "finished" then etype = "run_failed" end
  -- the event carries the whole run record: the index judges the run from the stream alone (conf.wire)
  local flat = redis.call("HGETALL", rk)
  local run = {}
  for i = 1, #flat, 2 do run[flat[i]] = flat[i + 1] end
  local ev = cjson.encode({type = etype, run_id = rid, site = site, status = status,
                           kind = redis.call("HGET", rk, "kind") or "", ended_at = now, run = run})
  redis.call("XADD", P .. ":items", "*", "type", etype, "run_id", rid, "json", ev)
  redis.call("PUBLISH", P .. ":events", ev)
end

-- n requests of a run are done: pending -= n; a running run ends when none is left
local function settle(rid, n, now)
  local rk = run_key(rid)
  if redis.call("EXISTS", rk) == 0 then return end
  local left = redis.call("HINCRBY", rk, "pending", -n)
  if left < 0 then
    redis.log(redis.LOG_WARNING, "frontier: pending of run " .. rid .. " went negative, reset to 0")
    redis.call("HSET", rk, "pending", 0)
    left = 0
  end
  if left == 0 and redis.call("HGET", rk, "status") == "running" then end_run(rid, "finished", nil, now) end
end

local function forget_lease(lid)
  redis.call("HDEL", P .. ":inflight", lid)
  redis.call("ZREM", P .. ":deadlines", lid)
  redis.call("HDEL", P .. ":workers", lid)
end

-- stats as (name, "i"|"f", value) triples from ARGV[first]
local function apply_stats(rk, first)
  for i = first, #ARGV, 3 do
    if ARGV[i + 1] == "f" then redis.call("HINCRBYFLOAT", rk, ARGV[i], ARGV[i + 2])
    else redis.call("HINCRBY", rk, ARGV[i], ARGV[i + 2]) end
  end
end

-- expired leases go back to the front of their host queue; too many expiries -> poison
local function reap(now, limit, max_attempts)
  local ids = redis.call("ZRANGE", P .. ":deadlines", "-inf", fmt(now), "BYSCORE", "LIMIT", 0, limit)
  for _, lid in ipairs(ids) do
    local entry = redis.call("HGET", P .. ":inflight", lid)
    forget_lease(lid)
    if entry then
      local obj = cjson.decode(entry)
      local rk = run_key(obj.run_id)
      local attempts = tonumber(redis.call("HGET", P .. ":attempts", obj.qid)) or 0
      if redis.call("HGET", rk, "status") ~= "running" then
        redis.call("HDEL", P .. ":attempts", obj.qid)
        settle(obj.run_id, 1, now)
      elseif attempts >= max_attempts then
        poison(entry, "lease expired " .. attempts .. " times", obj.host, now)
        redis.call("HDEL", P .. ":attempts", obj.qid)
        redis.call("HINCRBY", rk, "errors", 1)
        settle(obj.run_id, 1, now)
      else
        redis.call("HINCRBY", rk, "expired", 1)
        redis.call("LPUSH", P .. ":q:" .. obj.host, entry)
        redis.call("ZADD", P .. ":ready", "LT", fmt(next_allowed(obj.host)), obj.host)
      end
    end
  end
  return #ids
end
"""

# ARGV: prefix, site_id, run_id, kind, site_json, keep, detailed (runs that keep their errors and site copy), slot
START_RUN = COMMON + r"""
local site, rid = ARGV[2], ARGV[3]
local active = redis.call("HGET", P .. ":active", site)
if active then
  if redis.call("HGET", run_key(active), "status") == "running" then return {0, active} end
  redis.call("HDEL", P .. ":active", site)
end
local rk = run_key(rid)
if redis.call("EXISTS", rk) == 1 then return {0, rid} end  -- started before (a re-delivered start): nothing new
redis.call("HSET", rk, "run_id", rid, "site", site, "kind", ARGV[4], "status", "running",
           "started_at", fmt(now_()), "pages", 0, "items", 0, "errors", 0, "bytes", 0, "retries", 0, "pending", 0)
if ARGV[8] ~= "" then redis.call("HSET", rk, "slot", ARGV[8]) end
redis.call("SET", rk .. ":site", ARGV[5])
redis.call("HSET", P .. ":active", site, rid)
local lk = P .. ":site:" .. site .. ":runs"
redis.call("LPUSH", lk, rid)
local keep, detailed = tonumber(ARGV[6]), tonumber(ARGV[7])
for _, old in ipairs(redis.call("LRANGE", lk, keep, -1)) do
  local ok = run_key(old)
  redis.call("DEL", ok, ok .. ":site", ok .. ":errors", ok .. ":seen", ok .. ":emitted")
end
redis.call("LTRIM", lk, 0, keep - 1)
-- older runs keep their counters only: their site copy and error lists go (memory stays bounded)
for _, old in ipairs(redis.call("LRANGE", lk, detailed, -1)) do
  local ok = run_key(old)
  if redis.call("HGET", ok, "status") ~= "running" then redis.call("DEL", ok .. ":site", ok .. ":errors") end
end
return {1, rid}
"""

# ARGV: prefix, run_id, host, fingerprint, dedup(0/1), entry, delay
PUSH = COMMON + r"""
local rid, host, delay = ARGV[2], ARGV[3], tonumber(ARGV[7])
local rk = run_key(rid)
local st = redis.call("HGET", rk, "status")
if not st then return -1 end
if st ~= "running" then return -2 end
local added = redis.call("SADD", rk .. ":seen", ARGV[4])
if added == 0 and ARGV[5] == "1" then return 0 end
redis.call("HINCRBY", rk, "pending", 1)
local na = next_allowed(host)
local cand = na
if delay > 0 then
  local at = now_() + delay
  redis.call("ZADD", P .. ":delayed:" .. host, fmt(at), ARGV[6])
  cand = math.max(na, at)
else
  redis.call("RPUSH", P .. ":q:" .. host, ARGV[6])
end
redis.call("ZADD", P .. ":ready", "LT", fmt(cand), host)
return 1
"""

# ARGV: prefix, worker, lease_seconds, default_interval, reap_limit, max_attempts
# -> {lease_id, entry, attempt, leased_at, deadline, host, poisoned {{host, reason}...}, reaped}
LEASE = COMMON + r"""
local now = now_()
local reaped = reap(now, tonumber(ARGV[5]), tonumber(ARGV[6]))
local poisoned = {}
for _ = 1, 100 do
  local hs = redis.call("ZRANGE", P .. ":ready", "-inf", fmt(now), "BYSCORE", "LIMIT", 0, 1)
  if #hs == 0 then break end
  local host = hs[1]
  local na = next_allowed(host)
  if na > now then
    redis.call("ZADD", P .. ":ready", fmt(na), host)
  else
    local q, dk = P .. ":q:" .. host, P .. ":delayed:" .. host
    for _, e in ipairs(redis.call("ZRANGE", dk, "-inf", fmt(now), "BYSCORE", "LIMIT", 0, 100)) do
      redis.call("RPUSH", q, e)
      redis.call("ZREM", dk, e)
    end
    local entry = redis.call("LPOP", q)
    if not entry then
      host_score(host, na)
    else
      local ok, obj = pcall(cjson.decode, entry)
      local bad = nil
      if not ok then
        bad = "not JSON"
      elseif type(obj) ~= "table" or type(obj.qid) ~= "string" or type(obj.run_id) ~= "string"
          or type(obj.host) ~= "string" or type(obj.request) ~= "table" then
        bad = "JSON but not a frontier entry"
      end
      if bad then
        poison(entry, bad, host, now)
        table.insert(poisoned, {host, bad})
        host_score(host, na)
      elseif redis.call("HGET", run_key(obj.run_id), "status") ~= "running" then
        redis.call("HDEL", P .. ":attempts", obj.qid)
        settle(obj.run_id, 1, now)
        host_score(host, na)
      else
        local attempt = redis.call("HINCRBY", P .. ":attempts", obj.qid, 1)
        local lid = obj.qid .. "." .. attempt
        local deadline = now + tonumber(ARGV[3])
        redis.call("HSET", P .. ":inflight", lid, entry)
        redis.call("ZADD", P .. ":deadlines", fmt(deadline), lid)
        redis.call("HSET", P .. ":workers", lid, ARGV[2])
        local iv = tonumber(redis.call("HGET", P .. ":intervals", host)) or tonumber(ARGV[4])
        local nna = now + iv
        redis.call("HSET", P .. ":next", host, fmt(nna))
        host_score(host, nna)
        return {lid, entry, tostring(attempt), fmt(now), fmt(deadline), host, poisoned, reaped}
      end
    end
  end
end
return {"", "", "0", fmt(now), "0", "", poisoned, reaped}
"""

# ARGV: prefix, lease_id, stats triples...  -> 1 acked, 0 unknown/expired lease
ACK = COMMON + r"""
local lid = ARGV[2]
local entry = redis.call("HGET", P .. ":inflight", lid)
if not entry then return 0 end
forget_lease(lid)
local obj = cjson.decode(entry)
redis.call("HDEL", P .. ":attempts", obj.qid)
local rk = run_key(obj.run_id)
if redis.call("EXISTS", rk) == 1 then apply_stats(rk, 3) end
settle(obj.run_id, 1, now_())
return 1
"""

# ARGV: prefix, lease_id, reason -> 1 when the leased entry was moved to poison
REJECT = COMMON + r"""
local lid = ARGV[2]
local entry = redis.call("HGET", P .. ":inflight", lid)
if not entry then return 0 end
forget_lease(lid)
local now = now_()
local ok, obj = pcall(cjson.decode, entry)
poison(entry, ARGV[3], (ok and type(obj) == "table" and obj.host) or "", now)
if ok and type(obj) == "table" and obj.qid and obj.run_id then
  redis.call("HDEL", P .. ":attempts", obj.qid)
  redis.call("HINCRBY", run_key(obj.run_id), "errors", 1)
  settle(obj.run_id, 1, now)
end
return 1
"""

# ARGV: prefix, seconds, worker ("" for any), lease ids... -> the ids not extended (acked, released or reaped,
# or held by another worker); a worker's heartbeat renews all its leases in one call
EXTEND = COMMON + r"""
local deadline, lost = fmt(now_() + tonumber(ARGV[2])), {}
for i = 4, #ARGV do
  local who = redis.call("HGET", P .. ":workers", ARGV[i])
  if who and (ARGV[3] == "" or who == ARGV[3]) then
    redis.call("ZADD", P .. ":deadlines", "XX", deadline, ARGV[i])
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
"""

# ARGV: prefix, worker -> leases of the worker put back at the front of their host queues at once
# (a worker stopping cleanly: SIGTERM, a memory cap); the lease does not count as an attempt
RELEASE_WORKER = COMMON + r"""
local flat = redis.call("HGETALL", P .. ":workers")
local n = 0
for i = 1, #flat, 2 do
  local lid, who = flat[i], flat[i + 1]
  if who == ARGV[2] then
    local entry = redis.call("HGET", P .. ":inflight", lid)
    forget_lease(lid)
    if entry then
      local obj = cjson.decode(entry)
      if redis.call("HINCRBY", P .. ":attempts", obj.qid, -1) <= 0 then redis.call("HDEL", P .. ":attempts", obj.qid) end
      redis.call("LPUSH", P .. ":q:" .. obj.host, entry)
      redis.call("ZADD", P .. ":ready", "LT", fmt(next_allowed(obj.host)), obj.host)
      n = n + 1
    end
  end
end
return n
"""

# ARGV: prefix, limit, max_attempts
REAP = COMMON + r"""
return reap(now_(), tonumber(ARGV[2]), tonumber(ARGV[3]))
"""

# ARGV: prefix, run_id, stats triples...
ADD_STATS = COMMON + r"""
local rk = run_key(ARGV[2])
if redis.call("EXISTS", rk) == 0 then return 0 end
apply_stats(rk, 3)
return 1
"""

# ARGV: prefix, run_id, url, reason, keep
NOTE_ERROR = COMMON + r"""
local rk = run_key(ARGV[2])
if redis.call("EXISTS", rk) == 0 then return 0 end
redis.call("LPUSH", rk .. ":errors", cjson.encode({url = ARGV[3], reason = ARGV[4], at = now_()}))
redis.call("LTRIM", rk .. ":errors", 0, tonumber(ARGV[5]) - 1)
redis.call("HINCRBY", rk, "errors", 1)
return 1
"""

# ARGV: prefix, run_id, (type, digest, json) triples... An item whose digest the running run already put on the
# stream is not put again (a page fetched twice, after a lost lease, gives the same items): counted as repeated
EMIT = COMMON + r"""
local rid = ARGV[2]
local rk = run_key(rid)
local live = redis.call("HGET", rk, "status") == "running"
local n, repeated = 0, 0
for i = 3, #ARGV, 3 do
  if live and redis.call("SADD", rk .. ":emitted", ARGV[i + 1]) == 0 then
    repeated = repeated + 1
  else
    redis.call("XADD", P .. ":items", "*", "json", ARGV[i + 2], "type", ARGV[i], "run_id", rid)
    n = n + 1
  end
end
if n > 0 and redis.call("EXISTS", rk) == 1 then redis.call("HINCRBY", rk, "items", n) end
if repeated > 0 then redis.call("HINCRBY", rk, "items_repeated", repeated) end
return n
"""

# ARGV: prefix, run_id, reason, status ("failed" | "cancelled") -> 1 when the run was running and has ended
CANCEL = COMMON + r"""
if redis.call("HGET", run_key(ARGV[2]), "status") ~= "running" then return 0 end
end_run(ARGV[2], ARGV[4], ARGV[3], now_())
return 1
"""

# ARGV: prefix, host, run_id -> number of queued requests of the run dropped from this host
PURGE_HOST = COMMON + r"""
local host, rid = ARGV[2], ARGV[3]
local function mine(e)
  local ok, obj = pcall(cjson.decode, e)
  if ok and type(obj) == "table" and obj.run_id == rid then
    redis.call("HDEL", P .. ":attempts", tostring(obj.qid))
    return true
  end
  return false
end
local q, dk, n = P .. ":q:" .. host, P .. ":delayed:" .. host, 0
local keep = {}
for _, e in ipairs(redis.call("LRANGE", q, 0, -1)) do
  if mine(e) then n = n + 1 else table.insert(keep, e) end
end
if n > 0 then
  redis.call("DEL", q)
  for _, e in ipairs(keep) do redis.call("RPUSH", q, e) end
end
for _, e in ipairs(redis.call("ZRANGE", dk, 0, -1)) do
  if mine(e) then n = n + 1; redis.call("ZREM", dk, e) end
end
if n > 0 then settle(rid, n, now_()) end
host_score(host, next_allowed(host))
return n
"""

# ARGV: prefix -> queued requests over all hosts
QUEUED = COMMON + r"""
local n = 0
for _, host in ipairs(redis.call("ZRANGE", P .. ":ready", 0, -1)) do
  n = n + redis.call("LLEN", P .. ":q:" .. host) + redis.call("ZCARD", P .. ":delayed:" .. host)
end
return n
"""

# ARGV: prefix -> seconds until the earliest host is ready, as a string; false when none queued
WAIT_HINT = COMMON + r"""
local first = redis.call("ZRANGE", P .. ":ready", 0, 0, "WITHSCORES")
if #first == 0 then return false end
return fmt(math.max(0, tonumber(first[2]) - now_()))
"""

SCRIPTS = {
    "start_run": START_RUN, "push": PUSH, "lease": LEASE, "ack": ACK, "reject": REJECT,
    "extend": EXTEND, "reap": REAP, "release_worker": RELEASE_WORKER, "add_stats": ADD_STATS, "note_error": NOTE_ERROR,
    "emit": EMIT, "cancel": CANCEL, "purge_host": PURGE_HOST, "queued": QUEUED,
    "wait_hint": WAIT_HINT,
}
