package fleetredis

import "github.com/redis/go-redis/v9"

// A key's state is one hash, <prefix>:k:<provider key> (KEYS[1]), and one sorted set,
// <prefix>:p:<provider key> (KEYS[2]), both expiring after Idle without use. The hash:
//
//	seq, tot         calls and estimated tokens admitted so far
//	rep              reports applied so far (a reservation given back after a newer report is
//	                 not refunded)
//	blocked          no call before this (ms on Redis's clock): a 429 without rate-limit headers
//	r_*, t_*         the requests and tokens buckets: cap (the limit), rate (refill per ms),
//	                 tok (level at ts), ts (ms), rseq (the admission whose report set the bucket)
//
// The sorted set holds the reservations not yet reported ("seq:tokens", scored by their turn in
// ms), while a bucket is known: a report cannot count a call that went out after the reported
// one, and a call admitted earlier may have a later turn (it queued while a report found more
// room than expected) or be sent a little late. So a report's level also leaves out the
// reservations admitted before the reported call whose turn is no earlier than its turn minus
// 100 ms (a call given an earlier turn may still reach the provider after it). Reservations older than a minute are dropped (their callers never reported).
//
// Time is Redis's own (TIME, in ms), so the fleet's clocks need not agree; reports cross the
// network as durations (the reset's distance from the response).

const limiterNowLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// reserveScript reserves a call's cost in each known bucket (levels may go negative: later
// callers queue behind) and returns {admitted, wait ms, seq, tot, now ms, rep, gate}; it
// reserves nothing when the wait would pass ARGV[2] (ms; -1: no bound). gate is 1 when the wait
// is a 429's block rather than a turn in a bucket (turns in a bucket are distinct; a block ends
// for every caller at once).
var reserveScript = redis.NewScript(limiterNowLua + `
local k = KEYS[1]
local cost = {1, tonumber(ARGV[1])}
local maxwait = tonumber(ARGV[2])
local reserve = tonumber(ARGV[3])
local f = redis.call('HMGET', k, 'blocked', 'seq', 'tot', 'rep',
  'r_cap', 'r_rate', 'r_tok', 'r_ts', 't_cap', 't_rate', 't_tok', 't_ts')
local block = math.max(0, (tonumber(f[1]) or 0) - now)
local wait = block
local seq, tot, rep = tonumber(f[2]) or 0, tonumber(f[3]) or 0, tonumber(f[4]) or 0
local level = {}
for i = 0, 1 do
  local cap = tonumber(f[5 + 4 * i])
  if cap and cost[i + 1] > 0 then
    local rate = tonumber(f[6 + 4 * i]) or 0
    local lv = math.min(cap, (tonumber(f[7 + 4 * i]) or cap) + rate * math.max(0, now - (tonumber(f[8 + 4 * i]) or now)))
    local need = math.min(cost[i + 1] + reserve * cap, cap)
    if lv < need then
      if rate > 0 then
        wait = math.max(wait, math.ceil((need - lv) / rate))
      else
        wait = math.max(wait, 1000)
      end
    end
    level[i + 1] = lv
  end
end
if maxwait >= 0 and wait > maxwait then
  return {0, wait, seq, tot, now, rep, 0}
end
local names = {'r_', 't_'}
for i = 1, 2 do
  if level[i] then
    redis.call('HSET', k, names[i] .. 'tok', tostring(level[i] - cost[i]), names[i] .. 'ts', now)
  end
end
seq = seq + 1
tot = tot + cost[2]
redis.call('HSET', k, 'seq', seq, 'tot', tot)
redis.call('PEXPIRE', k, tonumber(ARGV[4]))
if level[1] or level[2] then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60000)
  redis.call('ZADD', KEYS[2], now + wait, seq .. ':' .. cost[2])
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]))
end
local gate = 0
if block > 0 and block >= wait then gate = 1 end
return {1, wait, seq, tot, now, rep, gate}
`)

// refundScript gives back a reservation (ARGV[2] tokens and one request, ARGV[3] its member
// in the sorted set) unless a report replaced the buckets after it was made (ARGV[1], the rep
// it saw).
var refundScript = redis.NewScript(`
local k = KEYS[1]
redis.call('ZREM', KEYS[2], ARGV[3])
local f = redis.call('HMGET', k, 'rep', 'r_cap', 'r_tok', 't_cap', 't_tok')
if (tonumber(f[1]) or 0) ~= tonumber(ARGV[1]) then return 0 end
local cost = {1, tonumber(ARGV[2])}
local names = {'r_', 't_'}
for i = 1, 2 do
  local cap, tok = tonumber(f[2 * i]), tonumber(f[2 * i + 1])
  if cap and tok and cost[i] > 0 then
    redis.call('HSET', k, names[i] .. 'tok', tostring(math.min(cap, tok + cost[i])))
  end
end
return 1
`)

// observeScript applies a response. ARGV: the call's seq (-1: not admitted by the fleet), its
// tot, its turn (ms), a 429's block (ms; 0: none), Idle (ms); then per bucket (requests,
// tokens): known (0/1), limit, remaining, reset (ms from the response); then the call's member
// in the sorted set.
//
// A report replaces a bucket unless the bucket holds the report of a later admission under the
// same limit, or the call was admitted before the state was lost (expired after Idle, or Redis
// restarted: its seq is ahead of the state's). The level is the remaining, refilled since the
// call's turn, minus what the fleet admitted after the call and the reservations admitted
// before it whose turn came too late for the report to count them (see above). The refill rate is
// (limit - remaining - 1) / reset, never slower than the last one under the same limit: a lower
// bound, as resets are rounded up and measured from the call's sending, and remaining is rounded
// down (the bucket may lack up to one call less than limit - remaining, and a whole-second reset
// may then be a few ms away: (limit - remaining) / reset would overstate the rate, and the
// ratchet would keep it). Limit per minute until a report proves more.
var observeScript = redis.NewScript(limiterNowLua + `
local k = KEYS[1]
local pseq, ptot, sent, block = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local f = redis.call('HMGET', k, 'seq', 'tot', 'blocked', 'r_cap', 'r_rate', 'r_rseq', 't_cap', 't_rate', 't_rseq',
  'r_aseq', 'r_arem', 'r_ats', 'r_alate', 'r_proved')
local seq, tot = tonumber(f[1]) or 0, tonumber(f[2]) or 0
if block > 0 and now + block > (tonumber(f[3]) or 0) then
  redis.call('HSET', k, 'blocked', now + block)
end
local names = {'r_', 't_'}
local after = {math.max(0, seq - pseq), math.max(0, tot - ptot)}
local nlate = 0
if pseq >= 0 then
  redis.call('ZREM', KEYS[2], ARGV[14])
  local late = redis.call('ZRANGEBYSCORE', KEYS[2], sent - 100, '+inf')
  for _, m in ipairs(late) do
    local s, tk = string.match(m, '^(%d+):(%d+)$')
    if s and tonumber(s) < pseq then
      after[1] = after[1] + 1
      after[2] = after[2] + tonumber(tk)
      nlate = nlate + 1
    end
  end
end
local changed = false
for i = 0, 1 do
  local a = 6 + 4 * i
  if ARGV[a] == '1' and pseq >= 0 and pseq <= seq then
    local limit, remaining, reset = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
    local cap, prate, rseq = tonumber(f[4 + 3 * i]), tonumber(f[5 + 3 * i]), tonumber(f[6 + 3 * i]) or -1
    if not (cap == limit and pseq < rseq) then
      local rate = limit / 60000
      if reset > 0 and remaining < limit - 1 then rate = (limit - remaining - 1) / reset end
      local seed = 0
      if i == 0 then
        if cap == limit then prate = tonumber(f[14]) or prate end
        -- Until a pair of reports proves a rate (in the first second), the calls queue at the
        -- rate of the whole limit per reset (at least a second). It may overstate the rate (a
        -- few 429s at the start, whose reports then prove the rate: a per-minute limit's empty
        -- bucket reports a reset a minute away), but a turn given at too slow a rate stays late however much is
        -- proved later, and a queue formed at the start would wait for seconds.
        local aseq, ats = tonumber(f[10]), tonumber(f[12])
        if reset > 0 and remaining < limit and not (cap == limit and aseq and sent - ats >= 1000) then
          seed = limit / math.max(reset, 1000)
        end
      end
      if i == 0 and cap == limit then
        -- A pair of reports 1-20 s apart (the anchor, then this one): the bucket held r1, the
        -- fleet admitted n calls in between (less those that may not have reached the provider
        -- yet), and it held r2, so it gained at least r2 - r1 + n - 2 over the time between
        -- their turns (2: remaining is rounded down, and one call may be counted either side).
        local aseq, arem, ats, alate = tonumber(f[10]), tonumber(f[11]), tonumber(f[12]), tonumber(f[13]) or 0
        if aseq and pseq > aseq and sent - ats >= 1000 and sent - ats <= 20000 then
          local gained = remaining - arem + (pseq - aseq) - nlate + alate - 2
          if gained > 0 then rate = math.max(rate, gained / (sent - ats)) end
        end
        if not aseq or sent - ats > 20000 or sent < ats then
          redis.call('HSET', k, 'r_aseq', pseq, 'r_arem', remaining, 'r_ats', sent, 'r_alate', nlate)
        end
      end
      if i == 0 and cap ~= limit then
        redis.call('HSET', k, 'r_aseq', pseq, 'r_arem', remaining, 'r_ats', sent, 'r_alate', nlate)
      end
      if cap == limit and prate and prate > rate then rate = prate end
      if i == 0 then redis.call('HSET', k, 'r_proved', tostring(rate)) end
      rate = math.max(rate, seed)
      local snap = math.min(sent, now)
      local level = math.min(limit, remaining + rate * math.max(0, now - snap)) - after[i + 1]
      local n = names[i + 1]
      redis.call('HSET', k, n .. 'cap', limit, n .. 'rate', tostring(rate), n .. 'tok', tostring(level),
        n .. 'ts', now, n .. 'rseq', pseq)
      changed = true
    end
  end
end
if changed then redis.call('HINCRBY', k, 'rep', 1) end
redis.call('PEXPIRE', k, tonumber(ARGV[5]))
return 1
`)

// stateScript returns {seq, blocked for (ms), r cap, r level, r rate, t cap, t level, t rate}
// as strings.
var stateScript = redis.NewScript(limiterNowLua + `
local f = redis.call('HMGET', KEYS[1], 'seq', 'blocked',
  'r_cap', 'r_rate', 'r_tok', 'r_ts', 't_cap', 't_rate', 't_tok', 't_ts')
local out = {tostring(tonumber(f[1]) or 0), tostring(math.max(0, (tonumber(f[2]) or 0) - now))}
for i = 0, 1 do
  local cap = tonumber(f[3 + 4 * i])
  if cap then
    local rate = tonumber(f[4 + 4 * i]) or 0
    local lv = math.min(cap, (tonumber(f[5 + 4 * i]) or cap) + rate * math.max(0, now - (tonumber(f[6 + 4 * i]) or now)))
    out[#out + 1] = tostring(cap)
    out[#out + 1] = tostring(lv)
    out[#out + 1] = tostring(rate)
  else
    out[#out + 1] = '0'
    out[#out + 1] = '0'
    out[#out + 1] = '0'
  end
end
return out
`)
