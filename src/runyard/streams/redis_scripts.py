"""The Lua scripts of ``RedisStreamBridge`` (``runyard.streams.redis``): every write to a run's log.

Each runs atomically in Redis, in one round trip, on the run's two keys (``KEYS[1]`` the stream,
``KEYS[2]`` the meta hash; see the bridge's module docstring). Scripts, not ``MULTI``, because the
id of an entry depends on what the meta hash holds and on whether the log has ended.
"""

from __future__ import annotations

# The id every write script uses: seq from the meta hash (or the stream's last entry when the
# meta is lost), raised to the caller's hint; ms from the server clock, never below the last one.
# After a cleanup ("gone") the next log starts at seq 0, with ms above the tombstone's.
NEXT_ID = """
local log, meta = KEYS[1], KEYS[2]
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
  ms = math.max(ms, tonumber(ARGV[1]))
  seq = math.max(seq, tonumber(ARGV[2]))
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > ms then ms = now end
local id = string.format('%d-%d', ms, seq)
"""

# ARGV: hint ms, hint seq, maxlen, ttl ms, event, data. Returns the id, or false after the end.
PUBLISH = (
    NEXT_ID
    + """
if state == 'ended' then return false end
redis.call('XADD', log, 'MAXLEN', ARGV[3], id, 'e', ARGV[5], 'd', ARGV[6])
redis.call('HSET', meta, 'ms', ms, 'seq', seq + 1)
redis.call('PEXPIRE', log, ARGV[4])
redis.call('PEXPIRE', meta, ARGV[4])
return id
"""
)

# ARGV: hint ms, hint seq, maxlen + 1, ttl ms. Idempotent.
PUBLISH_END = (
    NEXT_ID
    + """
if state == 'ended' then return 0 end
redis.call('XADD', log, 'MAXLEN', ARGV[3], id, 'end', '1')
redis.call('HSET', meta, 'state', 'ended', 'ms', ms, 'seq', seq + 1)
redis.call('PEXPIRE', log, ARGV[4])
redis.call('PEXPIRE', meta, ARGV[4])
return 1
"""
)

# ARGV: 0, 0, tombstone ttl ms. A no-op for an unknown or already removed log.
CLEANUP = (
    """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HGET', KEYS[2], 'state') == 'gone' then
  return 0
end
"""
    + NEXT_ID
    + """
redis.call('XADD', log, 'MAXLEN', 1, id, 'gone', '1')
redis.call('HSET', meta, 'state', 'gone', 'ms', ms, 'seq', seq + 1)
redis.call('PEXPIRE', log, ARGV[3])
redis.call('PEXPIRE', meta, ARGV[3])
return 1
"""
)
