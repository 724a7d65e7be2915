"""Looking for queued jobs in a Redis broker: is the message still there?

kombu's Redis transport keeps a queue as a list (one per priority step) and
the messages its consumers have taken but not acknowledged in one hash
(``unacked``), restored to the list after the visibility timeout. A job
message that is in neither is gone for good: taken by a consumer that died
between popping it and recording it as unacked, or never stored at all. Only
then may a poller publish it again (:mod:`swfbridge.poller.recovery`).

The look is one Lua script: it reads the lists and the hash inside Redis and
returns only the attempt ids it found, matched in the messages' headers (the
Celery task id is the attempt id, ``swf-`` and 32 hex digits; the body is
compressed, so ids inside it never match). A list longer than ``max_scan`` is
not read: the answer is "cannot tell", and the jobs are looked for again later.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

# KEYS: the queue's lists, then the unacked hash. ARGV[1]: longest list read;
# ARGV[2..]: the attempt ids looked for. Returns the ids found, or false when a
# list was too long to read.
_LOOK = """
local wanted = {}
for i = 2, #ARGV do wanted[ARGV[i]] = true end
local found = {}
local function look(message)
  for id in string.gmatch(message, 'swf%-%x+') do
    if wanted[id] then
      found[#found + 1] = id
      wanted[id] = nil
    end
  end
end
local limit = tonumber(ARGV[1])
for k = 1, #KEYS - 1 do
  if redis.call('LLEN', KEYS[k]) > limit then return false end
end
for k = 1, #KEYS - 1 do
  for _, message in ipairs(redis.call('LRANGE', KEYS[k], 0, -1)) do look(message) end
end
for _, message in ipairs(redis.call('HVALS', KEYS[#KEYS])) do look(message) end
return found
"""

REDIS_SCHEMES = ("redis://", "rediss://", "redis+socket://")
"""Broker URLs whose queues :func:`find_in_redis_broker` can look into."""


def is_redis_broker(url: Any) -> bool:
    """True for a kombu Redis broker URL (a string; several URLs: the first)."""
    if isinstance(url, (list, tuple)):
        url = url[0] if url else None
    if isinstance(url, str) and ";" in url:
        url = url.split(";", 1)[0]
    return isinstance(url, str) and url.startswith(REDIS_SCHEMES)


def find_in_redis_broker(
    channel: Any, queue: str, attempt_ids: Collection[str], *, max_scan: int
) -> set[str] | None:
    """The ``attempt_ids`` whose message a kombu Redis ``channel`` still holds for
    ``queue`` (waiting, or taken and not acknowledged).

    Returns:
        The ids found; None when the channel is not kombu's Redis channel or a
        list is longer than ``max_scan`` (cannot tell).

    Raises:
        Whatever the Redis client raises (the caller treats it as "cannot tell").
    """
    client = getattr(channel, "client", None)
    q_for_pri = getattr(channel, "_q_for_pri", None)
    unacked = getattr(channel, "unacked_key", None)
    if client is None or q_for_pri is None or not isinstance(unacked, str):
        return None
    if not attempt_ids:
        return set()
    # kombu prefixes only the commands it sends itself; EVAL is not one of them.
    prefix = getattr(channel, "global_keyprefix", "") or ""
    steps = sorted(set(getattr(channel, "priority_steps", None) or [0]))
    lists = list(dict.fromkeys(prefix + q_for_pri(queue, step) for step in steps))
    keys = [*lists, prefix + unacked]
    found = client.eval(_LOOK, len(keys), *keys, max_scan, *attempt_ids)
    if found is None:
        return None
    return {f.decode() if isinstance(f, bytes) else str(f) for f in found}
