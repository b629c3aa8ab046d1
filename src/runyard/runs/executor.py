"""``RunExecutor``: starts admitted runs as soon as a slot is free, and executes each one.

Scheduling is event-driven, not polled: admitting a run, finishing one, or a delayed run coming
due wakes the scheduler, which starts waiting runs in submission order while slots are free,
skipping threads that already run (the manager's ``try_start`` is the durable arbiter).

Executing a run streams its graph into the stream bridge (``metadata`` first, then the requested
modes), then writes the outcome: the final status through the manager's guarded transition (so a
cancel that won keeps ``interrupted``), token usage, and the thread's status through ``hooks``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from typing import Any, Protocol

from langchain_core.messages import BaseMessage, BaseMessageChunk, message_chunk_to_message
from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, Send

from ..streams.base import StreamBridge
from ..streams.errors import StreamError
from . import serde
from .manager import RunManager
from .record import RunRecord
from .schemas import RunStatus
from .stream_modes import debug_event, langgraph_modes
from .usage import UsageTracker

logger = logging.getLogger(__name__)

_BUILTIN_MODULE = "builtins"


class GraphSource(Protocol):
    """Where the executor gets the graph of a run (``runyard.graphs.GraphRegistry``)."""

    def open(
        self,
        graph_id: str,
        config: RunnableConfig | None = None,
        *,
        checkpointer: Any = None,
        store: Any = None,
    ) -> AbstractAsyncContextManager[Any]: ...


@dataclass(frozen=True)
class RunOutcome:
    """What a finished attempt tells the thread: its status, final values and interrupts."""

    record: RunRecord
    status: RunStatus
    values: Any
    interrupts: list[Any]
    error: str | None
    rolled_back: bool
    # Stopped before the graph's end (at ``interrupt()`` or a static breakpoint): nodes remain.
    paused: bool = False


class RunHooks(Protocol):
    """Callbacks that keep the thread resource in step with its runs (the API implements them)."""

    async def run_started(self, record: RunRecord) -> None: ...

    async def run_finished(self, outcome: RunOutcome) -> None: ...


def error_payload(exc: BaseException) -> dict[str, str]:
    """The ``error`` event's body. Only built-in exception types show their message (as
    langgraph-api does): a library's exception text can carry secrets."""
    name = type(exc).__name__
    if type(exc).__module__ == _BUILTIN_MODULE:
        return {"error": name, "message": str(exc)}
    return {"error": name, "message": "An internal error occurred"}


def graph_context(graph: Any, context: dict[str, Any] | None) -> dict[str, Any] | None:
    """The run's context cut to the keys the graph's context schema declares (as langgraph-api
    does): a dataclass schema would otherwise fail the run on a key it does not know. An empty
    context stays empty, so a context schema's defaults apply."""
    if not context:
        return context
    try:
        schema = graph.get_context_jsonschema()
    except Exception:
        logger.debug("No context schema for graph %s", getattr(graph, "name", "?"), exc_info=True)
        return context
    properties = (schema or {}).get("properties") or {}
    if not properties:
        return context
    return {key: value for key, value in context.items() if key in properties}


def graph_input(kwargs: dict[str, Any]) -> Any:
    """The run's input as LangGraph takes it: a ``Command`` when the run carries one."""
    command = kwargs.get("command")
    if not command:
        return kwargs.get("input")
    goto = command.get("goto")
    if isinstance(goto, dict):
        goto = Send(goto["node"], goto.get("input"))
    elif isinstance(goto, list):
        goto = [Send(g["node"], g.get("input")) if isinstance(g, dict) else g for g in goto]
    update = command.get("update")
    if isinstance(update, list):
        update = [tuple(u) for u in update]
    return Command(update=update, resume=command.get("resume"), goto=goto or ())


class _MessageAccumulator:
    """Builds langgraph-api's ``messages`` events: metadata once, then each partial message."""

    def __init__(self) -> None:
        self._chunks: dict[str, BaseMessageChunk] = {}
        self._seen: set[str] = set()

    def events(self, message: Any, metadata: dict[str, Any]) -> list[tuple[str, Any]]:
        if not isinstance(message, BaseMessage):
            return [("messages/partial", [message])]
        msg_id = message.id or ""
        out: list[tuple[str, Any]] = []
        if msg_id not in self._seen:
            self._seen.add(msg_id)
            out.append(("messages/metadata", {msg_id: {"metadata": metadata}}))
        if isinstance(message, BaseMessageChunk):
            previous = self._chunks.get(msg_id)
            merged = message if previous is None else previous + message
            self._chunks[msg_id] = merged
            out.append(("messages/partial", [message_chunk_to_message(merged)]))
        else:
            self._chunks.pop(msg_id, None)
            out.append(("messages/complete", [message]))
        return out


class RunExecutor:
    """Runs admitted runs with bounded concurrency; see the module docstring."""

    def __init__(
        self,
        manager: RunManager,
        bridge: StreamBridge,
        graphs: GraphSource,
        *,
        checkpointer: Any,
        store: Any = None,
        hooks: RunHooks | None = None,
        max_concurrency: int = 10,
        stream_retention: float = 120.0,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.manager = manager
        self.bridge = bridge
        self.graphs = graphs
        self.checkpointer = checkpointer
        self.store = store
        self.hooks = hooks
        self.max_concurrency = max_concurrency
        self.stream_retention = stream_retention
        self._waiting: dict[str, RunRecord] = {}
        self._not_before: dict[str, float] = {}  # run_id -> loop time a delayed run comes due
        self._active = 0
        self._wake = asyncio.Event()
        self._scheduler: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._accepting = True

    @property
    def active(self) -> int:
        return self._active

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def start(self) -> None:
        if self._scheduler is None:
            self._scheduler = asyncio.create_task(self._schedule_loop(), name="runyard-scheduler")

    async def stop(self) -> None:
        """Stop starting runs (the drain of running ones is ``RunManager.shutdown``)."""
        self._accepting = False
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._scheduler is not None:
            self._scheduler.cancel()
            await asyncio.gather(self._scheduler, return_exceptions=True)
            self._scheduler = None

    def submit(self, record: RunRecord, *, delay: float = 0.0) -> None:
        """Queue an admitted (pending) run; it starts when a slot and its thread are free, and
        not before ``delay`` seconds. A delayed run waits in the queue like any other, so a
        cancel reaches it (and ends its stream) at the next wake-up, not when the delay ends."""
        self._waiting[record.run_id] = record
        if delay > 0:
            loop = asyncio.get_running_loop()
            self._not_before[record.run_id] = loop.time() + delay
            handle: asyncio.TimerHandle

            def due() -> None:
                self._timers.discard(handle)
                self._wake.set()

            handle = loop.call_later(delay, due)
            self._timers.add(handle)
        self._wake.set()

    def wake(self) -> None:
        """Ask the scheduler to look again (a thread was freed elsewhere)."""
        self._wake.set()

    async def _schedule_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._accepting:
                return
            try:
                await self._start_ready()
            except Exception:
                logger.exception("Run scheduler pass failed; will retry on the next wake-up")

    def _thread_busy(self, record: RunRecord) -> bool:
        for other in self.manager.live_records(record.thread_id):
            if other is record:
                continue
            if other.status is RunStatus.running or (other.task is not None and not other.task.done()):
                return True
        return False

    def _dequeue(self, run_id: str) -> None:
        self._waiting.pop(run_id, None)
        self._not_before.pop(run_id, None)

    async def _start_ready(self) -> None:
        now = asyncio.get_running_loop().time()
        for run_id, record in list(self._waiting.items()):
            if record.status is not RunStatus.pending:
                self._dequeue(run_id)
                await self._drop_unstarted(record)
                continue
            if self._active >= self.max_concurrency or self._not_before.get(run_id, now) > now:
                continue
            if self._thread_busy(record):
                continue
            if not await self.manager.try_start(run_id):
                if record.status is not RunStatus.pending:
                    self._dequeue(run_id)
                    await self._drop_unstarted(record)
                continue
            self._dequeue(run_id)
            self._active += 1
            record.task = asyncio.create_task(self._run(record), name=f"runyard-run:{run_id}")

    async def _drop_unstarted(self, record: RunRecord) -> None:
        """A run cancelled before it started: end its stream, tell the thread, honour rollback."""
        rolled_back = record.abort_action == "rollback" and record.status is RunStatus.interrupted
        if rolled_back:
            await self.manager.delete(record.run_id)
        await self._finish_stream(record.run_id)
        if self.hooks is not None:
            await self.hooks.run_finished(
                RunOutcome(record, record.status, None, [], record.error, rolled_back=rolled_back)
            )

    async def _run(self, record: RunRecord) -> None:
        try:
            await self._execute(record)
        finally:
            self._active -= 1
            self._wake.set()

    def config_for(self, record: RunRecord) -> RunnableConfig:
        """The run's LangGraph config: the stored one, stamped with the run's identity.

        ``metadata.run_id`` is what makes a retried attempt resume: LangGraph treats a run whose
        id matches the latest checkpoint's as a re-entry and does not re-apply the input.
        """
        kwargs = record.kwargs
        config: dict[str, Any] = copy.deepcopy(kwargs.get("config") or {})
        configurable = config.setdefault("configurable", {})
        checkpoint = kwargs.get("checkpoint") or {}
        for key in ("checkpoint_id", "checkpoint_ns", "checkpoint_map"):
            if checkpoint.get(key) is not None:
                configurable[key] = checkpoint[key]
        configurable.update(
            run_id=record.run_id,
            thread_id=record.thread_id,
            assistant_id=record.assistant_id,
        )
        if record.user_id is not None:
            configurable.setdefault("user_id", record.user_id)
        metadata = config.setdefault("metadata", {})
        metadata.update(record.metadata or {})
        metadata.update(
            run_id=record.run_id,
            thread_id=record.thread_id,
            assistant_id=record.assistant_id,
            graph_id=configurable.get("graph_id"),
            run_attempt=record.attempt,
        )
        return config  # type: ignore[return-value]

    async def _publish(self, run_id: str, event: str, data: Any) -> None:
        await self.bridge.publish(run_id, event, serde.fragment(data))

    async def _execute(self, record: RunRecord) -> None:
        run_id = record.run_id
        kwargs = record.kwargs
        api_modes: list[str] = list(kwargs.get("stream_mode") or ["values"])
        subgraphs = bool(kwargs.get("subgraphs"))
        config = self.config_for(record)
        graph_id = str(config["configurable"].get("graph_id"))
        tracker = UsageTracker()
        config["callbacks"] = [*(config.get("callbacks") or []), tracker]  # type: ignore[misc]
        status, error = RunStatus.success, None
        last_values: Any = None
        paused = False
        cancelled = False
        graph: Any = None
        try:
            # Before the first event: a thread stream that is followed gets all of the run's.
            await self.bridge.bind_thread(run_id, record.thread_id)
            await self._publish(run_id, "metadata", {"run_id": run_id, "attempt": record.attempt})
            if self.hooks is not None:
                await self.hooks.run_started(record)
            async with self.graphs.open(
                graph_id, config, checkpointer=self.checkpointer, store=self.store
            ) as graph:
                last_values, paused = await self._stream(graph, record, config, api_modes, subgraphs)
        except asyncio.CancelledError:
            cancelled = True
            if (
                record.abort_action == "rollback"
                and record.status is RunStatus.interrupted
                and graph is not None
            ):
                await self._rollback(graph, record)
            raise
        except Exception as exc:
            status, error = RunStatus.error, f"{type(exc).__name__}: {exc}"
            logger.info("Run %s failed: %s", run_id, error)
            with suppress(StreamError):
                await self._publish(run_id, "error", error_payload(exc))
        finally:
            # Shielded: a second cancel must not leave a half-written outcome.
            await asyncio.shield(self._write_outcome(record, status, error, last_values, cancelled, paused))

    async def _stream(
        self, graph: Any, record: RunRecord, config: RunnableConfig, api_modes: list[str], subgraphs: bool
    ) -> tuple[Any, bool]:
        """Stream the graph into the bridge; ``(final values, paused)``, where ``paused`` says
        the run stopped with nodes left to run (LangGraph's root ``__interrupt__`` update, sent
        for ``interrupt()`` and for static breakpoints alike)."""
        kwargs = record.kwargs
        run_id = record.run_id
        wanted = set(api_modes)
        accumulator = _MessageAccumulator() if "messages" in wanted else None
        last_values: Any = None
        paused = False
        # ``subgraphs`` goes to LangGraph as asked: without it, a message a subgraph returns
        # still reaches ``messages`` mode once, as its parent node's output.
        async for item in graph.astream(
            graph_input(kwargs),
            config,
            context=graph_context(graph, kwargs.get("context")),
            stream_mode=langgraph_modes(api_modes),
            subgraphs=subgraphs,
            interrupt_before=kwargs.get("interrupt_before"),
            interrupt_after=kwargs.get("interrupt_after"),
            durability=kwargs.get("durability") or "async",
        ):
            ns, mode, chunk = item if subgraphs else ((), *item)
            suffix = "".join(f"|{part}" for part in ns)
            if mode == "updates" and not ns and isinstance(chunk, dict) and "__interrupt__" in chunk:
                paused = True
            if mode == "values":
                if not ns:
                    last_values = chunk
                if "values" in wanted:
                    await self._publish(run_id, "values" + suffix, chunk)
            elif mode == "messages":
                message, metadata = chunk
                if "messages-tuple" in wanted:
                    await self._publish(run_id, "messages" + suffix, [message, metadata])
                if accumulator is not None:
                    # No namespace suffix here: langgraph-api sends accumulated messages from
                    # subgraphs under the plain ``messages/*`` names.
                    for event, data in accumulator.events(message, metadata):
                        await self._publish(run_id, event, data)
            elif mode == "debug" and "debug" in wanted:
                await self._publish(run_id, "debug" + suffix, debug_event(chunk))
            elif mode in wanted:
                await self._publish(run_id, mode + suffix, chunk)
        if "values" not in wanted and isinstance(last_values, dict) and "__interrupt__" in last_values:
            await self._publish(run_id, "values", {"__interrupt__": last_values["__interrupt__"]})
        return last_values, paused

    async def _rollback(self, graph: Any, record: RunRecord) -> None:
        """Put the thread back where it was before this run: the parent of the run's first
        checkpoint becomes the head again (or the thread is emptied when the run started it)."""
        thread_config = {"configurable": {"thread_id": record.thread_id, "checkpoint_ns": ""}}
        first: Any = None
        try:
            async for snapshot in self.checkpointer.alist(thread_config):
                if (snapshot.metadata or {}).get("run_id") == record.run_id:
                    first = snapshot
                elif first is not None:
                    break
            if first is None:
                return
            if first.parent_config is None:
                await self.checkpointer.adelete_thread(record.thread_id)
                return
            await graph.aupdate_state(first.parent_config, None)
        except Exception:
            logger.warning(
                "Could not roll back thread %s after run %s", record.thread_id, record.run_id, exc_info=True
            )

    async def _write_outcome(
        self,
        record: RunRecord,
        status: RunStatus,
        error: str | None,
        last_values: Any,
        cancelled: bool,
        paused: bool = False,
    ) -> None:
        run_id = record.run_id
        if cancelled and record.status.is_active:
            # Cancelled by the shutdown drain, not by a user: the manager requeues or interrupts
            # it after the drain; the thread stays busy and the stream stays open for resumption.
            return
        if not cancelled:
            await self.manager.set_status(run_id, status, error=error)
        rolled_back = (
            cancelled and record.abort_action == "rollback" and record.status is RunStatus.interrupted
        )
        interrupts = list(last_values.get("__interrupt__", ())) if isinstance(last_values, dict) else []
        try:
            if rolled_back:
                await self.manager.delete(run_id)
            await self.manager.update_run_completion(run_id, **self._completion(record, status))
            if self.hooks is not None:
                final = record.status if record.status.is_terminal else status
                await self.hooks.run_finished(
                    RunOutcome(
                        record, final, last_values, interrupts, error, rolled_back=rolled_back, paused=paused
                    )
                )
        except Exception:
            logger.warning("Failed to record the outcome of run %s", run_id, exc_info=True)
        finally:
            await self._finish_stream(run_id)

    def _completion(self, record: RunRecord, status: RunStatus) -> dict[str, Any]:
        del status
        return {"status": record.status.value}

    async def _finish_stream(self, run_id: str) -> None:
        with suppress(StreamError):
            await self.bridge.publish_end(run_id)
            await self.bridge.cleanup(run_id, delay=self.stream_retention)
