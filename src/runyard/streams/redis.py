"""``RedisStreamBridge``: run and thread logs in Redis Streams, shared by every runyard process of a cluster.

Keys (``{prefix}`` is ``key_prefix``; the ``{run_id}`` hash tag keeps both keys of a run on one
Redis Cluster slot, so the Lua scripts of ``redis_scripts`` may touch both):

- ``{prefix}:{<run_id>}:log``, a Redis Stream. Entries are events (fields ``e``, the event name,
  and ``d``, its JSON), the end marker (field ``end``) or the cleanup tombstone (field ``gone``).
- ``{prefix}:{<run_id>}:meta``, a hash: ``ms`` and ``seq`` of the next id, ``state`` (absent
  while the log is open, ``ended``, ``gone``).

Thread logs (contract invariant 11, for the thread stream). A thread's keys,
``{prefix}:thread:{<thread_id>}:...``:

- ``:log`` and ``:meta``, a Redis Stream and hash like a run's (same ids, retention and gap
  rules; never an end marker or tombstone), holding the events of the thread's bound runs, each
  run's ``RUN_DONE_EVENT`` and ``publish_thread`` events;
- ``:followed``, the marker: the thread log is kept only while it exists;
- ``:followers``, a sorted set of the subscriptions following the thread, in any process, each
  scored with the end of its lease.

A ``subscribe_thread`` adds its lease (``2 * idle_check + operation_timeout``) and sets the
marker's, the log's and the meta's TTL to the last lease's end plus ``thread_retention``; one task
per bridge renews the leases of all of its subscriptions every ``idle_check`` seconds (so a slow
SSE client does not lose its hold), and a subscription that closes removes its lease, leaving the
thread ``thread_retention`` seconds for a reconnect. A follower whose process died stops holding
the thread when its lease runs out. ``bind_thread`` is local to the process that executes the run
(the executor publishes all of a run's events and its end there); the run's publish script then
also takes the thread's marker, log and meta and appends the event to the thread log when the
marker exists, in the same round trip: while nobody follows a thread, a bound run's publish
costs one ``PTTL`` more. ``publish_end`` appends ``RUN_DONE_EVENT`` the same way. A thread's
keys are not on its runs' Redis Cluster slot, so this bridge needs a standalone Redis (or a
primary with replicas), not Redis Cluster.

Ids. Each entry's Redis stream id *is* its event id, ``"<ms>-<seq>"``, chosen by the publish
script rather than by ``XADD *``: ``seq`` is the event's absolute position in the run's log (0,
1, 2...) and ``ms`` the Redis server clock, never going back within a log. So ``Last-Event-ID``
replay is ``XREAD`` from that id, and a reader knows it missed trimmed events by arithmetic (the
next seq it reads is not the one it expected), with no extra round trip. Events published by any
process share one clock and one counter, the Redis server's.

Retention. ``XADD`` trims with an exact ``MAXLEN`` of ``max_events_per_run`` (the end marker gets
one more), not ``MAXLEN ~``: the approximate form trims whole radix-tree nodes (100 entries by
default), so a log would hold a variable number of events and a gap could not name exactly what
is left. Trimming one entry per ``XADD`` is O(1). Every write sets a TTL of ``ttl`` seconds on
both keys, so a log whose publisher died vanishes by itself; ``cleanup(delay=d)`` shortens it to
``d`` (Redis then removes the log even if this process is gone, and ``close`` does not cancel it).
``cleanup()`` appends the tombstone with ``MAXLEN 1`` (it drops every event and wakes every
reader blocked in ``XREAD``, in any process) and keeps it for ``TOMBSTONE_TTL`` seconds, so the
next log of the same run starts its ids above the old ones.

Failures. Redis is not the source of truth. A publish Redis does not answer raises
``StreamUnavailableError`` (the executor logs nothing more and the run goes on); this bridge
counts it (``publish_failures``) and skips the lost event's seq, so readers see a gap where events
are missing, also when Redis comes back empty. After a failed write, writes fail at once for
``retry_after`` seconds, so a hung Redis costs a run one ``operation_timeout``, not one per event.
A subscription that loses its connection retries
for ``reconnect_timeout`` seconds (yielding heartbeats meanwhile) and resumes from its cursor,
with a gap if events were lost; after that it raises ``StreamUnavailableError``, a
``StreamClosedError``, so the API answers from the run store. A reader whose log vanished (a
Redis restart without persistence, a TTL) raises ``StreamClosedError`` within ``idle_check``
seconds: never a hang. Thread logs fail the same way: ``publish_thread`` and a bound run's
publishes raise ``StreamUnavailableError`` (a failed append skips a seq of the thread log too, as
far as this process knows where it is, so its followers see a gap), a thread follower retries
(following the thread again once Redis answers) and then raises ``StreamUnavailableError``; one
that waits on a thread log it never read from goes on waiting when Redis comes back empty.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .base import (
    HEARTBEAT,
    RUN_DONE_EVENT,
    StreamBridge,
    StreamEvent,
    StreamGap,
    StreamItem,
    parse_event_id,
    run_done_data,
)
from .errors import StreamClosedError, StreamEndedError, StreamUnavailableError
from .redis_scripts import CLEANUP, FOLLOW, PUBLISH, PUBLISH_END, PUBLISH_THREAD
from .sse import encode_data

logger = logging.getLogger(__name__)

DEFAULT_MAX_EVENTS_PER_RUN = 1024
DEFAULT_KEY_PREFIX = "runyard:stream"
DEFAULT_THREAD_RETENTION = 120.0
THREAD_HINTS = 4096  # threads whose next id this process remembers (see _Hint); the oldest go first
TOMBSTONE_TTL = 60.0  # seconds a cleaned-up log keeps its tombstone (and its id floor)
READ_BATCH = 128  # entries per XREAD: replay in few round trips, without huge replies of big states
_GRACE = 5.0  # seconds a Redis reply may take beyond its own block time before the link counts as lost

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)

_Entry = tuple[bytes, dict[bytes, bytes]]


@dataclass(slots=True)
class _Hint:
    """What this process last knew of a run's next id: used when Redis lost the run's meta."""

    ms: int = 0
    seq: int = 0
    failed: bool = False  # a publish failed: logged once per run


class RedisStreamBridge(StreamBridge):
    """The cross-process ``StreamBridge`` on Redis Streams (see the module docstring).

    Built from a ``redis://`` URL of a standalone Redis (a thread's and a run's keys meet in one
    script); it owns two connection pools (writes, reads), and every subscription waiting in
    ``XREAD BLOCK`` holds one read connection. Nothing connects before the first call: call
    ``ping`` at start to fail fast on an unreachable Redis.
    """

    cross_process = True

    def __init__(
        self,
        url: str,
        *,
        max_events_per_run: int = DEFAULT_MAX_EVENTS_PER_RUN,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        ttl: float = 3600.0,
        thread_retention: float = DEFAULT_THREAD_RETENTION,
        idle_check: float = 2.0,
        reconnect_timeout: float = 10.0,
        operation_timeout: float = 5.0,
        retry_after: float = 1.0,
    ) -> None:
        if max_events_per_run < 1:
            raise ValueError(f"max_events_per_run must be at least 1, not {max_events_per_run}")
        for name, value in (
            ("ttl", ttl),
            ("idle_check", idle_check),
            ("operation_timeout", operation_timeout),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be positive, not {value}")
        for name, value in (
            ("reconnect_timeout", reconnect_timeout),
            ("retry_after", retry_after),
            ("thread_retention", thread_retention),
        ):
            if not value >= 0:
                raise ValueError(f"{name} must not be negative, not {value}")
        self.url = url
        self._capacity = max_events_per_run
        self._prefix = key_prefix
        self._ttl_ms = _ms(ttl)
        self._thread_retention_ms = _ms(thread_retention)
        # A follower's lease outlives two missed renewals and a slow Redis reply.
        self._lease_ms = _ms(2 * idle_check + operation_timeout)
        self._idle_check = idle_check
        self._reconnect_timeout = reconnect_timeout
        self._op_timeout = operation_timeout
        self._retry_after = retry_after
        # One immediate retry, on a new connection: after a Redis restart every pooled connection
        # is dead, and the first command on each must not count as an outage. A publish that
        # Redis ran just before its link dropped may so be appended twice: a visible duplicate,
        # never a silent loss. Longer outages are handled above the client (see the docstring).
        # No socket_timeout (redis-py 8 defaults it to 5 s): every call here has its own deadline
        # (asyncio.timeout), and with one redis-py sends each command under asyncio.wait_for,
        # which on Python 3.11 loses a cancellation that lands as the send completes: a
        # subscription cancelled then (an SSE client leaving) would go on reading forever.
        self._client = aioredis.Redis.from_url(
            url,
            retry=Retry(NoBackoff(), 1),
            socket_timeout=None,
            socket_connect_timeout=operation_timeout,
            socket_keepalive=True,
        )
        # Readers get a pool of their own without client retries: a dropped link may mean a new,
        # empty Redis, so each reader handles it itself (re-placing its cursor, see subscribe).
        self._read_client = aioredis.Redis.from_url(
            url,
            retry=Retry(NoBackoff(), 0),
            socket_timeout=None,
            socket_connect_timeout=operation_timeout,
            socket_keepalive=True,
        )
        self._publish = self._client.register_script(PUBLISH)
        self._publish_end = self._client.register_script(PUBLISH_END)
        self._publish_thread = self._client.register_script(PUBLISH_THREAD)
        self._follow_script = self._client.register_script(FOLLOW)
        self._cleanup = self._client.register_script(CLEANUP)
        self._hints: dict[str, _Hint] = {}
        self._thread_of: dict[str, str] = {}  # run id -> thread id, for runs this process executes
        self._thread_hints: dict[str, _Hint] = {}  # threads this process appended to lately
        self._follows: dict[str, list[str]] = {}  # this process's thread subscriptions -> FOLLOW keys
        self._opening: dict[str, set[asyncio.Future[str | None]]] = {}  # thread -> holds being taken
        self._renewer: asyncio.Task[None] | None = None
        self._down_until = 0.0  # loop time before which writes fail fast (see _write)
        self._closed = False
        self.publish_failures = 0
        """Publishes (events and end markers) Redis did not confirm since the bridge was built."""

    # -- keys and helpers -----------------------------------------------------------------------

    def _keys(self, run_id: str) -> list[str]:
        base = f"{self._prefix}:{{{run_id}}}"
        return [f"{base}:log", f"{base}:meta"]

    def _thread_keys(self, thread_id: str) -> list[str]:
        """The thread's marker, log and meta: the keys of its appends (see the module docstring)."""
        base = f"{self._prefix}:thread:{{{thread_id}}}"
        return [f"{base}:followed", f"{base}:log", f"{base}:meta"]

    def _follow_keys(self, thread_id: str) -> list[str]:
        """The keys of the ``FOLLOW`` script: the thread's followers, then its append keys."""
        return [f"{self._prefix}:thread:{{{thread_id}}}:followers", *self._thread_keys(thread_id)]

    def _where(self) -> str:
        """The server's address for messages, without credentials."""
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port or 6379}"

    async def ping(self) -> None:
        """Check that Redis answers; ``StreamUnavailableError`` naming the server when it does not."""
        try:
            async with asyncio.timeout(self._op_timeout):
                await self._client.ping()
        except _UNREACHABLE as exc:
            raise StreamUnavailableError(f"Redis at {self._where()} cannot be reached: {exc}") from exc

    # -- publishing -----------------------------------------------------------------------------

    async def publish(self, run_id: str, event: str, data: Any) -> str:
        if self._closed:
            raise StreamClosedError()
        payload = encode_data(data)  # an orjson.Fragment from the executor is copied, not re-encoded
        hint = self._hints.get(run_id)
        if hint is None:
            hint = self._hints[run_id] = _Hint()
        keys = self._keys(run_id)
        args = [hint.ms, hint.seq, self._capacity, self._ttl_ms, event, payload]
        thread_id = self._thread_of.get(run_id)
        thread_hint = None
        if thread_id is not None:
            if thread_id in self._opening:
                await self._opened(thread_id)
            thread_hint = self._thread_hints.get(thread_id)
            keys += self._thread_keys(thread_id)
            args += [0, 0] if thread_hint is None else [thread_hint.ms, thread_hint.seq]
        try:
            result = await self._write(self._publish, keys, args, f"an event of run {run_id}")
        except StreamUnavailableError as exc:
            hint.seq += 1  # the lost event keeps its seq, so readers see a gap where it was
            if thread_hint is not None:
                thread_hint.seq += 1  # and so do thread readers, if the thread is still followed
            self._failed(run_id, hint, exc)
            raise
        if result is None:
            raise StreamEndedError(run_id)
        event_id = str(result[0].decode())
        ms, seq = _split(event_id)
        hint.ms, hint.seq = ms, seq + 1
        if thread_id is not None:
            self._appended(thread_id, result[1])
        return event_id

    async def publish_end(self, run_id: str) -> None:
        if self._closed:
            return
        hint = self._hints.pop(run_id, None) or _Hint()
        keys = self._keys(run_id)
        args: list[Any] = [hint.ms, hint.seq, self._capacity + 1, self._ttl_ms]
        thread_id = self._thread_of.pop(run_id, None)
        if thread_id is not None:
            if thread_id in self._opening:
                await self._opened(thread_id)
            thread_hint = self._thread_hints.get(thread_id) or _Hint()
            keys += self._thread_keys(thread_id)
            args += [thread_hint.ms, thread_hint.seq, self._capacity, RUN_DONE_EVENT]
            args.append(orjson.dumps(run_done_data(run_id)))
        try:
            await self._write(self._publish_end, keys, args, f"the end of run {run_id}")
        except StreamUnavailableError as exc:
            self._failed(run_id, hint, exc)
            raise
        if thread_id is not None:
            # The id of the run-done event is not returned: the next append reads the thread's meta.
            self._thread_hints.pop(thread_id, None)

    async def bind_thread(self, run_id: str, thread_id: str) -> None:
        # Process-local: the process that executes a run publishes all of its events and its end.
        if not self._closed:
            self._thread_of[run_id] = thread_id

    async def publish_thread(self, thread_id: str, event: str, data: Any) -> str | None:
        if self._closed:
            return None
        if thread_id in self._opening:
            await self._opened(thread_id)
        payload = encode_data(data)
        hint = self._thread_hints.get(thread_id)
        args: list[Any] = [0, 0] if hint is None else [hint.ms, hint.seq]
        args += [self._capacity, event, payload]
        keys = self._thread_keys(thread_id)
        try:
            result = await self._write(self._publish_thread, keys, args, f"an event of thread {thread_id}")
        except StreamUnavailableError:
            self.publish_failures += 1
            if hint is not None:
                hint.seq += 1
            raise
        return self._appended(thread_id, result)

    def _appended(self, thread_id: str, result: bytes | None) -> str | None:
        """Remember where a thread log is (for gaps after failed appends); its id, or None."""
        if result is None:
            self._thread_hints.pop(thread_id, None)  # nobody follows the thread
            return None
        event_id = result.decode()
        ms, seq = _split(event_id)
        hints = self._thread_hints
        hints.pop(thread_id, None)  # re-inserted last: the oldest entries are the first evicted
        hints[thread_id] = _Hint(ms, seq + 1)
        if len(hints) > THREAD_HINTS:
            del hints[next(iter(hints))]
        return event_id

    async def _write(self, script: AsyncScript, keys: list[str], args: list[Any], what: str) -> Any:
        """Run a write script, or fail fast for ``retry_after`` seconds after a failed one.

        A Redis that hangs (not down: paused, partitioned) costs each write ``operation_timeout``;
        without the pause every event of every run would wait that long, while the run's outcome
        does not depend on Redis at all.
        """
        loop = asyncio.get_running_loop()
        if loop.time() < self._down_until:
            raise StreamUnavailableError(f"Redis at {self._where()} failed a moment ago; {what} is dropped")
        try:
            async with asyncio.timeout(self._op_timeout):
                return await script(keys=keys, args=args)
        except _UNREACHABLE as exc:
            self._down_until = loop.time() + self._retry_after
            raise StreamUnavailableError(f"Redis at {self._where()} did not take {what}: {exc!r}") from exc

    def _failed(self, run_id: str, hint: _Hint, exc: BaseException) -> None:
        self.publish_failures += 1
        if not hint.failed:
            hint.failed = True
            logger.warning(
                "Redis at %s is unreachable; events of run %s are lost until it answers (%s)",
                self._where(),
                run_id,
                exc,
            )

    # -- reading --------------------------------------------------------------------------------

    def subscribe(
        self,
        run_id: str,
        *,
        last_event_id: str | None = None,
        heartbeat_interval: float | None = 15.0,
    ) -> AsyncGenerator[StreamItem, None]:
        return self._read(f"run {run_id}", run_id, self._keys(run_id), last_event_id, heartbeat_interval)

    def subscribe_thread(
        self,
        thread_id: str,
        *,
        last_event_id: str | None = None,
        heartbeat_interval: float | None = 15.0,
    ) -> AsyncGenerator[StreamItem, None]:
        # The contract wants the call itself to open the log. Redis needs a round trip for that,
        # so the call starts it at once (a hold for ``thread_retention`` only, until the reader
        # starts and takes a renewed lease), and this process's publishers to the thread wait
        # for it; a fresh subscription's cursor is the log's last id at that moment.
        if heartbeat_interval is not None and not heartbeat_interval > 0:
            raise ValueError(f"heartbeat_interval must be positive or None, not {heartbeat_interval}")
        if self._closed:
            raise StreamClosedError(thread_id)
        keys = self._follow_keys(thread_id)
        opening = asyncio.ensure_future(self._open_thread(keys))
        pending = self._opening.setdefault(thread_id, set())
        pending.add(opening)
        opening.add_done_callback(pending.discard)
        return self._read(
            f"thread {thread_id}",
            thread_id,
            keys[2:],
            last_event_id,
            heartbeat_interval,
            follow=keys,
            opening=opening,
        )

    async def _open_thread(self, keys: list[str]) -> str | None:
        """Create (or keep) the thread log for ``thread_retention``; the id of its last entry."""
        async with asyncio.timeout(self._op_timeout):
            await self._follow_script(
                keys=keys, args=[uuid.uuid4().hex, 1, self._thread_retention_ms], client=self._read_client
            )
            tail: Any = await self._read_client.xrevrange(keys[2], "+", "-", count=2)
        return _latest_event_id(tail)

    async def _opened(self, thread_id: str) -> None:
        """Wait for this process's subscriptions to ``thread_id`` to have opened its log."""
        pending = self._opening.get(thread_id)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        elif pending is not None:
            del self._opening[thread_id]

    async def _read(
        self,
        what: str,
        name: str,
        keys: list[str],
        last_event_id: str | None,
        heartbeat_interval: float | None,
        follow: list[str] | None = None,
        opening: asyncio.Future[str | None] | None = None,
    ) -> AsyncGenerator[StreamItem, None]:
        """A subscription to one log; ``follow`` (a thread's keys) holds the thread while it reads,
        ``opening`` (a thread subscription's first hold) gives a fresh one its starting point."""
        if heartbeat_interval is not None and not heartbeat_interval > 0:
            raise ValueError(f"heartbeat_interval must be positive or None, not {heartbeat_interval}")
        if self._closed:
            raise StreamClosedError(name)
        member = uuid.uuid4().hex
        reader = _Reader(self, name, keys, last_event_id)
        if opening is not None:
            try:
                latest = await opening
            except Exception:  # Redis unreachable: the loop below retries the hold
                latest = None
            if last_event_id is None and latest is not None:
                reader.requested = reader.cursor = latest  # only what comes after the call
        loop = asyncio.get_running_loop()
        idle_since = last_check = loop.time()
        down_since: float | None = None
        following = False
        try:
            while True:
                if self._closed:
                    raise StreamClosedError(name)
                now = loop.time()
                heartbeat_due = None if heartbeat_interval is None else idle_since + heartbeat_interval
                try:
                    if follow is not None and not following:
                        await self._follow(follow, member)  # again after an outage: Redis may be new
                        following = True
                    if not reader.resolved:
                        gap = await reader.resolve()
                        batch: list[StreamItem] = [] if gap is None else [gap]
                    else:
                        until = last_check + self._idle_check
                        if heartbeat_due is not None:
                            until = min(until, heartbeat_due)
                        batch = await reader.items(await reader.read(block=max(until - now, 0.001)))
                        if not batch and not reader.done and loop.time() - last_check >= self._idle_check:
                            last_check = loop.time()
                            if reader.seen and not await self._log_exists(reader.keys[0]):
                                raise StreamClosedError(name)  # expired, or Redis restarted without it
                    down_since = None
                except _UNREACHABLE as exc:
                    if self._closed:
                        raise StreamClosedError(name) from None
                    now = loop.time()
                    if down_since is None:
                        down_since = now
                    if now - down_since >= self._reconnect_timeout:
                        raise StreamUnavailableError(
                            f"Redis at {self._where()} is unreachable; the events of {what} cannot be read: {exc}"
                        ) from exc
                    # Re-place the cursor once Redis answers: it may be a new, empty Redis. If the log
                    # is missing then, end rather than wait: its end marker may have been lost with it,
                    # and a reader waiting for a finished run would heartbeat forever (DeerFlow #5342).
                    # A thread log has no end marker to lose: its reader waits on, unless it had read it.
                    reader.resolved, reader.after_outage = False, True
                    reader.seen = reader.seen or follow is None
                    following = False
                    if heartbeat_due is not None and now >= heartbeat_due:
                        idle_since = now
                        yield HEARTBEAT
                    await asyncio.sleep(min(0.05 * 2 ** (now - down_since), 0.5))  # back off, bounded
                    continue
                for item in batch:
                    yield item
                if reader.done:
                    return
                now = loop.time()
                if batch:
                    idle_since = last_check = now
                elif heartbeat_due is not None and now >= heartbeat_due:
                    idle_since = now
                    yield HEARTBEAT
        finally:
            if follow is not None:
                await self._unfollow(follow, member)

    async def _log_exists(self, log_key: str) -> bool:
        async with asyncio.timeout(self._op_timeout):
            return bool(await self._read_client.exists(log_key))

    # -- following threads ----------------------------------------------------------------------

    async def _follow(self, keys: list[str], member: str) -> None:
        """Hold the thread (its marker, log and meta) for this subscription, renewed in the background."""
        async with asyncio.timeout(self._op_timeout):
            await self._follow_script(
                keys=keys, args=[member, self._lease_ms, self._thread_retention_ms], client=self._read_client
            )
        self._follows[member] = keys
        if self._renewer is None and not self._closed:
            self._renewer = asyncio.create_task(self._renew_follows())

    async def _unfollow(self, keys: list[str], member: str) -> None:
        """Release the subscription's hold: the thread log stays ``thread_retention`` more seconds.

        Best effort: when Redis cannot be told (it is down, the bridge closed), the lease ends the
        hold by itself, ``thread_retention`` plus at most the lease later.
        """
        held = self._follows.pop(member, None)
        if held is None or self._closed:
            return
        try:
            async with asyncio.timeout(self._op_timeout):
                await self._follow_script(keys=keys, args=[member, 0, self._thread_retention_ms])
        except _UNREACHABLE as exc:
            logger.debug("could not release a thread subscription on Redis at %s: %s", self._where(), exc)

    async def _renew_follows(self) -> None:
        """Renew the lease of every thread subscription of this process, one pipeline a round."""
        try:
            while self._follows and not self._closed:
                await asyncio.sleep(self._idle_check)
                follows = list(self._follows.items())
                if not follows:
                    break
                try:
                    async with (
                        asyncio.timeout(self._op_timeout),
                        self._client.pipeline(transaction=False) as pipe,
                    ):
                        for member, keys in follows:
                            args: list[Any] = [member, self._lease_ms, self._thread_retention_ms]
                            await self._follow_script(keys=keys, args=args, client=pipe)
                        await pipe.execute()
                except _UNREACHABLE as exc:
                    # Each reader sees the outage too and follows again once Redis answers.
                    logger.debug(
                        "could not renew thread subscriptions on Redis at %s: %s", self._where(), exc
                    )
        finally:
            self._renewer = None

    async def _release_follows(self) -> None:
        """At close, release every thread this process follows, in one round trip if Redis answers.

        Best effort and short: the leases end the holds anyway, and shutdown must not wait on Redis.
        """
        follows, self._follows = self._follows, {}
        if not follows or asyncio.get_running_loop().time() < self._down_until:
            return
        try:
            async with (
                asyncio.timeout(min(self._op_timeout, 1.0)),
                self._client.pipeline(transaction=False) as pipe,
            ):
                for member, keys in follows.items():
                    await self._follow_script(
                        keys=keys, args=[member, 0, self._thread_retention_ms], client=pipe
                    )
                await pipe.execute()
        except _UNREACHABLE as exc:
            logger.debug("could not release thread subscriptions on Redis at %s: %s", self._where(), exc)

    # -- lifecycle ------------------------------------------------------------------------------

    async def exists(self, run_id: str) -> bool:
        if self._closed:
            return False
        state, present = await self._state(run_id)
        return present and state != b"gone"

    async def ended(self, run_id: str) -> bool:
        if self._closed:
            return False
        state, present = await self._state(run_id)
        return present and state == b"ended"

    async def _state(self, run_id: str) -> tuple[bytes | None, bool]:
        log, meta = self._keys(run_id)
        try:
            async with asyncio.timeout(self._op_timeout), self._client.pipeline(transaction=True) as pipe:
                pipe.hget(meta, "state")
                pipe.exists(log)
                state, present = await pipe.execute()
        except _UNREACHABLE as exc:
            raise StreamUnavailableError(f"Redis at {self._where()} cannot be reached: {exc}") from exc
        return state, bool(present)

    async def cleanup(self, run_id: str, *, delay: float = 0) -> None:
        if self._closed:
            return
        self._hints.pop(run_id, None)
        self._thread_of.pop(run_id, None)
        keys = self._keys(run_id)
        try:
            async with asyncio.timeout(self._op_timeout):
                if delay > 0:
                    async with self._client.pipeline(transaction=True) as pipe:
                        for key in keys:
                            pipe.pexpire(key, _ms(delay))
                        await pipe.execute()
                else:
                    await self._cleanup(keys=keys, args=[0, 0, _ms(TOMBSTONE_TTL)])
        except _UNREACHABLE as exc:
            raise StreamUnavailableError(
                f"Redis at {self._where()} did not remove the log of run {run_id}: {exc}"
            ) from exc

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._hints.clear()
        self._thread_of.clear()
        self._thread_hints.clear()
        if self._renewer is not None:
            self._renewer.cancel()
        await self._release_follows()
        # Dropping every connection, in use or not, ends each XREAD BLOCK at once: its reader
        # sees the bridge closed and raises StreamClosedError.
        await self._read_client.aclose(close_connection_pool=True)
        await self._client.aclose(close_connection_pool=True)


class _Reader:
    """One subscription's place in a log (a run's or a thread's): the cursor, the seq it expects next, and reads."""

    def __init__(
        self, bridge: RedisStreamBridge, name: str, keys: list[str], last_event_id: str | None
    ) -> None:
        self.bridge = bridge
        self.name = name  # the run's or thread's id, for errors
        self.keys = keys  # the log and its meta
        self.client = bridge._read_client
        self.requested = last_event_id  # what the next resolve places: the client's, then ours
        self.position = "0-0"  # XREAD returns entries after this id
        self.expect: int | None = None  # the seq of the next event; a larger one means a gap
        self.cursor: str | None = last_event_id  # the last id yielded, for gaps while reading
        self.seen = False  # the log existed while we read it: its disappearance closes us
        self.resolved = False
        self.done = False
        # Redis may have lost events while we could not reach it: a cursor it no longer holds
        # then gets a gap even before a fresh log (seq 0), where it would otherwise resume.
        self.after_outage = False

    async def resolve(self) -> StreamGap | None:
        """Place the cursor (contract invariant 5) on one consistent snapshot of the log."""
        log, meta = self.keys
        requested = self.requested
        key = parse_event_id(requested) if requested is not None else None
        async with asyncio.timeout(self.bridge._op_timeout), self.client.pipeline(transaction=True) as pipe:
            pipe.hget(meta, "state")
            pipe.xrange(log, "-", "+", count=1)
            pipe.xrevrange(log, "+", "-", count=2)
            if key is not None:
                pipe.xrange(log, f"({key[0]}-{key[1]}", "+", count=1)
            state, head_entries, tail, *after = await pipe.execute()
        self.resolved = True
        if state == b"gone" or (head_entries and b"gone" in head_entries[0][1]):
            # A cleaned-up log is no log: wait for the next one, which starts above the tombstone.
            if self.seen:
                raise StreamClosedError(self.name)
            self.position, self.expect = (tail[0][0].decode() if tail else "0-0"), 0
            return None
        if not head_entries:
            if self.seen:
                raise StreamClosedError(self.name)  # the log we were reading is gone
            self.position, self.expect = "0-0", 0
            return None
        self.seen = True
        head_id, head = head_entries[0][0].decode(), head_entries[0][1]
        head_key = _split(head_id)
        latest = _latest_event_id(tail)
        if key is not None and latest is not None and key <= _split(latest):
            self.position = f"{key[0]}-{key[1]}"
            if key >= head_key:
                next_entries = after[0]
                following = next_entries[0][0].decode() if next_entries else None
                self.expect = _split(following or latest)[1] + (0 if following else 1)
                return None
            self.expect = head_key[1]
            exact = key[1] == head_key[1] - 1 and key[0] <= head_key[0]  # the last trimmed id
            if (head_key[1] == 0 and not self.after_outage) or exact or b"e" not in head:
                return None
            return StreamGap(requested, head_id, latest)
        self.position, self.expect = "0-0", head_key[1]
        if head_key[1] == 0 or b"e" not in head or latest is None:
            return None
        return StreamGap(requested, head_id, latest)

    async def read(self, *, block: float) -> list[_Entry]:
        """The next entries after the cursor, waiting up to ``block`` seconds for one."""
        block_ms = max(int(block * 1000), 1)  # BLOCK 0 would wait forever
        async with asyncio.timeout(block + _GRACE):
            reply: Any = await self.client.xread(
                {self.keys[0]: self.position}, count=READ_BATCH, block=block_ms
            )
        if not reply:
            return []
        entries: list[_Entry] = reply[0][1]  # RESP2: [[key, [(id, fields), ...]]]
        return entries

    async def items(self, batch: Sequence[_Entry]) -> list[StreamItem]:
        """What a batch of entries yields: events, and a gap where seqs jump; ``done`` at the end.

        The reader's place moves only once the whole batch is decoded: if Redis fails meanwhile,
        the retry reads the batch again rather than skipping it.
        """
        out: list[StreamItem] = []
        position, expect, cursor = self.position, self.expect, self.cursor
        done = False
        for raw_id, fields in batch:
            entry_id = raw_id.decode()
            position = entry_id
            name = fields.get(b"e")
            if name is None:
                if b"end" in fields:
                    done = True
                    break
                raise StreamClosedError(self.name)  # the tombstone: the log was cleaned up
            seq = _split(entry_id)[1]
            if expect is not None and seq != expect:
                if seq < expect:
                    raise StreamClosedError(self.name)  # a new log replaced the one we read
                out.append(StreamGap(cursor, entry_id, await self._latest() or entry_id))
            expect, cursor = seq + 1, entry_id
            out.append(StreamEvent(entry_id, name.decode(), orjson.Fragment(fields[b"d"])))
        if batch:
            self.seen = True
        self.position, self.expect, self.cursor, self.done = position, expect, cursor, done
        if cursor is not None:
            self.requested = cursor
        return out

    async def _latest(self) -> str | None:
        async with asyncio.timeout(self.bridge._op_timeout):
            tail: Any = await self.client.xrevrange(self.keys[0], "+", "-", count=2)
        return _latest_event_id(tail)


def _latest_event_id(tail: Sequence[_Entry]) -> str | None:
    """The newest event's id among the last two entries (the last may be the end marker)."""
    for raw_id, fields in tail:
        if b"e" in fields:
            return raw_id.decode()
    return None


def _split(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq)


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)
