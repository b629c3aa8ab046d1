"""The Lua scripts of ``RedisStreamBridge`` (``runyard.streams.redis``): every write to a log.

Each runs atomically in Redis, in one round trip. A run's scripts take the run's two keys
(``KEYS[1]`` the stream, ``KEYS[2]`` the meta hash; see the bridge's module docstring) and, for a
run bound to a thread, the thread's marker, stream and meta (``KEYS[3..5]``): a run event is
appended to the thread log in the same script, when the thread is followed. Those keys are on
other Redis Cluster slots than the run's, so the bridge needs a standalone Redis (or a primary
with replicas), not Redis Cluster. Scripts, not ``MULTI``, because the id of an entry depends on
what the meta hash holds and on whether the log has ended.
"""

from __future__ import annotations

# The id every write uses: seq from the meta hash (or the stream's last entry when the meta is
# lost), raised to the caller's hint; ms from the server clock, never below the last one. After a
# cleanup ("gone") the next log starts at seq 0, with ms above the tombstone's. Returns the
# state, ms, seq and the id.
_NEXT_ID = """
local function next_id(log, meta, hint_ms, hint_seq)
  local m = redis.call('HMGET', meta, 'state', 'ms', 'seq')
  local state, ms, seq = m[1], tonumber(m[2]), tonumber(m[3])
  if state == 'gone' then
    redis.call('DEL', log, meta)
    state, ms, seq = false, ms + 1, 0
  else
    if not ms then
      ms, seq = 0, 0
      local last = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)[1]
      if last then
        local dash = string.find(last[1], '-', 1, true)
        ms = tonumber(string.sub(last[1], 1, dash - 1))
        seq = tonumber(string.sub(last[1], dash + 1)) + 1
      end
    end
    -- The caller's hint counts the events it failed to publish: skipping their seqs shows the loss.
    ms = math.max(ms, tonumber(hint_ms))
    seq = math.max(seq, tonumber(hint_seq))
  end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if now > ms then ms = now end
  return state, ms, seq, string.format('%d-%d', ms, seq)
end
"""

# Appends an event to a thread log when the thread is followed (its marker exists); the log and
# its meta expire with the marker. Returns the id, or false when nobody follows the thread.
_THREAD_APPEND = """
local function thread_append(marker, log, meta, hint_ms, hint_seq, maxlen, event, data)
  local ttl = redis.call('PTTL', marker)
  if ttl == -2 then return false end
  local _, ms, seq, id = next_id(log, meta, hint_ms, hint_seq)
  redis.call('XADD', log, 'MAXLEN', maxlen, id, 'e', event, 'd', data)
  redis.call('HSET', meta, 'ms', ms, 'seq', seq + 1)
  if ttl > 0 then
    redis.call('PEXPIRE', log, ttl)
    redis.call('PEXPIRE', meta, ttl)
  end
  return id
end
"""

# KEYS: log, meta[, thread marker, thread log, thread meta]. ARGV: hint ms, hint seq, maxlen,
# ttl ms, event, data[, thread hint ms, thread hint seq]. Returns {id, thread id or false}, or
# false after the end.
PUBLISH = (
    _NEXT_ID
    + _THREAD_APPEND
    + """
local log, meta = KEYS[1], KEYS[2]
local state, ms, seq, id = next_id(log, meta, ARGV[1], ARGV[2])
if state == 'ended' then return false end
redis.call('XADD', log, 'MAXLEN', ARGV[3], id, 'e', ARGV[5], 'd', ARGV[6])
redis.call('HSET', meta, 'ms', ms, 'seq', seq + 1)
redis.call('PEXPIRE', log, ARGV[4])
redis.call('PEXPIRE', meta, ARGV[4])
local thread_id = false
if KEYS[5] then
  thread_id = thread_append(KEYS[3], KEYS[4], KEYS[5], ARGV[7], ARGV[8], ARGV[3], ARGV[5], ARGV[6])
end
return {id, thread_id}
"""
)

# KEYS: log, meta[, thread marker, thread log, thread meta]. ARGV: hint ms, hint seq, maxlen + 1,
# ttl ms[, thread hint ms, thread hint seq, thread maxlen, run-done event, run-done data].
# Idempotent: the run-done event goes to the thread log with the first end only.
PUBLISH_END = (
    _NEXT_ID
    + _THREAD_APPEND
    + """
local log, meta = KEYS[1], KEYS[2]
local state, ms, seq, id = next_id(log, meta, ARGV[1], ARGV[2])
if state == 'ended' then return 0 end
redis.call('XADD', log, 'MAXLEN', ARGV[3], id, 'end', '1')
redis.call('HSET', meta, 'state', 'ended', 'ms', ms, 'seq', seq + 1)
redis.call('PEXPIRE', log, ARGV[4])
redis.call('PEXPIRE', meta, ARGV[4])
if KEYS[5] then
  thread_append(KEYS[3], KEYS[4], KEYS[5], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
end
return 1
"""
)

# KEYS: thread marker, thread log, thread meta. ARGV: hint ms, hint seq, maxlen, event, data.
# Returns the id, or false when nobody follows the thread.
PUBLISH_THREAD = (
    _NEXT_ID
    + _THREAD_APPEND
    + """
return thread_append(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
"""
)

# KEYS: thread followers (a sorted set: subscription -> lease deadline, server ms), marker, log,
# meta. ARGV: subscription, lease ms (0: it closed), retention ms. Keeps the marker, the log and
# its meta alive until the last lease runs out, plus the retention: a follower refreshes its lease
# while it reads, and one whose process died stops holding the thread when its lease ends.
FOLLOW = """
local followers, marker, log, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease, retention = tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', followers, '-inf', now)
if lease > 0 then
  redis.call('ZADD', followers, now + lease, ARGV[1])
else
  redis.call('ZREM', followers, ARGV[1])
end
local ttl = retention
local last = redis.call('ZRANGE', followers, -1, -1, 'WITHSCORES')
if last[2] then
  ttl = tonumber(last[2]) - now + retention
  redis.call('PEXPIRE', followers, ttl)
end
ttl = math.max(ttl, 1)
if lease > 0 or redis.call('EXISTS', marker) == 1 then
  redis.call('SET', marker, '1', 'PX', ttl)
  redis.call('PEXPIRE', log, ttl)
  redis.call('PEXPIRE', meta, ttl)
end
return ttl
"""

# ARGV: 0, 0, tombstone ttl ms. A no-op for an unknown or already removed log.
CLEANUP = (
    _NEXT_ID
    + """
local log, meta = KEYS[1], KEYS[2]
if redis.call('EXISTS', log) == 0 or redis.call('HGET', meta, 'state') == 'gone' then
  return 0
end
local state, ms, seq, id = next_id(log, meta, ARGV[1], ARGV[2])
redis.call('XADD', log, 'MAXLEN', 1, id, 'gone', '1')
redis.call('HSET', meta, 'state', 'gone', 'ms', ms, 'seq', seq + 1)
redis.call('PEXPIRE', log, ARGV[3])
redis.call('PEXPIRE', meta, ARGV[3])
return 1
"""
)
