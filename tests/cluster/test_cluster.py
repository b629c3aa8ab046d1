"""Three real ``runyard serve`` processes on one Postgres and one Redis (issue 6).

Any process serves any run: created on A, joined on B, cancelled from C. A process killed with
``kill -9`` loses nothing: its runs are taken over from their last checkpoint within the lease,
each step's effect applied once except the step in flight, never by two live owners at once.
Admission across processes admits exactly one ``reject`` run per thread.
"""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_sync_client

from api.server import poll

from .cluster import Cluster

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

STEPS = ["step_1", "step_2", "step_3", "step_4"]


def _client(cluster: Cluster, index: int) -> Any:
    return get_sync_client(url=cluster.servers[index].url)


def _status(client: Any, thread_id: str, run_id: str) -> str:
    return str(client.runs.get(thread_id, run_id)["status"])


def test_a_run_created_on_a_is_joined_on_b_and_cancelled_from_c(cluster: Cluster) -> None:
    a, b, c = (_client(cluster, i) for i in range(3))
    thread = a.threads.create()
    run = a.runs.create(
        thread["thread_id"], "steps", input={}, config={"configurable": {"delay": 1.0}}, stream_resumable=True
    )
    run_id = run["run_id"]
    poll(lambda: any(e.run_id == run_id for e in cluster.journal()), timeout=30, what="the run to start")
    seen: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        joined = pool.submit(
            lambda: [
                part.event for part in b.runs.join_stream(thread["thread_id"], run_id, stream_mode="values")
            ]
        )
        poll(lambda: _status(c, thread["thread_id"], run_id) == "running", timeout=10, what="running")
        started = time.monotonic()
        c.runs.cancel(thread["thread_id"], run_id, wait=True)  # returns once the owner has stopped
        seen = joined.result(timeout=30)
    poll(
        lambda: (
            not any(
                e.phase == "start" and e.at > time.time() - 0.2
                for e in cluster.journal()
                if e.run_id == run_id
            )
            and _status(a, thread["thread_id"], run_id) == "interrupted"
        ),
        timeout=10,
        what="the run to stop",
    )
    stopped_within = time.monotonic() - started
    assert stopped_within < 15, stopped_within  # the cancel reached the owner, not its lease expiry
    assert "metadata" in seen
    steps_started = [e.step for e in cluster.journal() if e.run_id == run_id and e.phase == "start"]
    assert steps_started and len(steps_started) < len(STEPS)
    assert b.threads.get(thread["thread_id"])["status"] == "interrupted"


def test_wait_and_join_on_other_processes_return_the_final_state(cluster: Cluster) -> None:
    a, b, c = (_client(cluster, i) for i in range(3))
    thread = a.threads.create()
    run = a.runs.create(thread["thread_id"], "steps", input={}, config={"configurable": {"delay": 0.05}})
    assert c.runs.join(thread["thread_id"], run["run_id"])["done"] == STEPS
    assert b.runs.get(thread["thread_id"], run["run_id"])["status"] == "success"
    assert b.threads.get_state(thread["thread_id"])["values"]["done"] == STEPS
    waited = b.runs.wait(thread["thread_id"], "steps", input={}, config={"configurable": {"delay": 0.01}})
    assert waited["done"] == STEPS * 2


def test_racing_reject_admissions_on_three_processes_admit_one(cluster: Cluster) -> None:
    thread_id = _client(cluster, 0).threads.create()["thread_id"]
    body = {
        "assistant_id": "steps",
        "input": {},
        "multitask_strategy": "reject",
        "config": {"configurable": {"delay": 0.5}},
    }

    def post(index: int) -> int:
        url = f"{cluster.servers[index % 3].url}/threads/{thread_id}/runs"
        return httpx.post(url, json=body, timeout=30).status_code

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(post, range(12)))
    assert sorted(codes) == [200] + [409] * 11, codes


def test_kill_9_with_50_runs_in_flight_loses_nothing(cluster: Cluster) -> None:
    clients = [_client(cluster, i) for i in range(3)]
    runs: list[tuple[str, str]] = []
    for i in range(50):
        client = clients[i % 3]
        thread = client.threads.create()
        run = client.runs.create(
            thread["thread_id"], "steps", input={}, config={"configurable": {"delay": 0.3}}
        )
        runs.append((thread["thread_id"], run["run_id"]))
    run_ids = {run_id for _, run_id in runs}
    victim = cluster.servers[0]
    assert victim.proc is not None
    victim_pid = victim.proc.pid
    poll(
        lambda: sum(1 for e in cluster.journal() if e.pid == victim_pid and e.run_id in run_ids) >= 5,
        timeout=30,
        what="the victim to be executing runs",
    )
    victim.kill()
    killed_at = time.time()
    try:
        _check_takeover(cluster, clients[1], runs, victim_pid, killed_at)
    finally:
        cluster.start(victim)


def _check_takeover(
    cluster: Cluster, survivor: Any, runs: list[tuple[str, str]], victim_pid: int, killed_at: float
) -> None:
    def all_done() -> bool:
        return all(_status(survivor, t, r) in ("success", "error") for t, r in runs)

    poll(all_done, timeout=90, interval=0.25, what="all 50 runs to finish")
    assert [_status(survivor, t, r) for t, r in runs] == ["success"] * 50
    by_run = cluster.by_run()
    takeovers: list[float] = []
    for _, run_id in runs:
        entries = by_run[run_id]
        ends = [e.step for e in entries if e.phase == "end"]
        assert sorted(set(ends)) == STEPS, (run_id, entries)
        for step in STEPS:
            # Each step's effect once, except the step the kill interrupted (started, never ended).
            assert ends.count(step) == 1, (run_id, step, entries)
        pids = [e.pid for e in entries]
        if victim_pid in pids and pids[-1] != victim_pid:
            last_victim = max(e.at for e in entries if e.pid == victim_pid)
            first_other = min(e.at for e in entries if e.pid != victim_pid and e.at > last_victim - 1e-6)
            # Never two live owners: the new owner starts after the old one's last word.
            assert first_other >= last_victim, (run_id, entries)
            takeovers.append(first_other - killed_at)
    assert takeovers, "the victim held no unfinished run when it was killed"
    # Lease 3 s + poll 1 s (bench/cluster_bench.py measures it); the bound here only catches a
    # takeover that waits on something else than the lease, with room for a loaded machine.
    assert max(takeovers) < 20.0, takeovers


def test_a_graceful_stop_hands_unfinished_runs_over_at_once(cluster: Cluster) -> None:
    clients = [_client(cluster, i) for i in range(3)]
    leaving = cluster.servers[2]
    assert leaving.proc is not None
    leaving_pid = leaving.proc.pid
    runs = []
    for _ in range(6):
        thread = clients[2].threads.create()
        run = clients[2].runs.create(
            thread["thread_id"], "steps", input={}, config={"configurable": {"delay": 1.0}}
        )
        runs.append((thread["thread_id"], run["run_id"]))
    poll(
        lambda: any(e.pid == leaving_pid for e in cluster.journal() if e.run_id in {r for _, r in runs}),
        timeout=30,
        what="the leaving process to execute a run",
    )
    leaving.stop()
    poll(
        lambda: all(_status(clients[0], t, r) == "success" for t, r in runs),
        timeout=60,
        interval=0.25,
        what="the handed-over runs to finish",
    )
    cluster.start(leaving)


def test_a_stream_cut_on_one_process_resumes_on_another_with_last_event_id(cluster: Cluster) -> None:
    a, b, c = (_client(cluster, i) for i in range(3))
    thread = a.threads.create()
    run = a.runs.create(
        thread["thread_id"],
        "steps",
        input={},
        config={"configurable": {"delay": 0.4}},
        stream_mode="updates",
        stream_resumable=True,
    )
    first: list[Any] = []
    for part in b.runs.join_stream(thread["thread_id"], run["run_id"]):
        first.append(part)
        if part.event == "updates":
            break  # the client goes away mid-run
    assert first[-1].id
    rest = list(c.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id=first[-1].id))
    updates = [p.data for p in first + rest if p.event == "updates"]
    assert [next(iter(u)) for u in updates] == STEPS  # every step once: no loss, no repeat
    ids = [p.id for p in first + rest if p.id]
    assert len(ids) == len(set(ids)) and ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))


def test_cancel_many_by_status_reaches_runs_on_every_process(cluster: Cluster) -> None:
    clients = [_client(cluster, i) for i in range(3)]
    runs = []
    for i in range(6):
        thread = clients[i % 3].threads.create()
        run = clients[i % 3].runs.create(
            thread["thread_id"], "steps", input={}, config={"configurable": {"delay": 2.0}}
        )
        runs.append((thread["thread_id"], run["run_id"]))
    poll(
        lambda: all(_status(clients[0], t, r) == "running" for t, r in runs),
        timeout=30,
        what="every run to be running somewhere",
    )
    clients[1].runs.cancel_many(status="running")
    poll(
        lambda: all(_status(clients[2], t, r) == "interrupted" for t, r in runs),
        timeout=15,
        what="every run to be cancelled",
    )


def test_the_thread_stream_on_one_process_carries_runs_executed_by_others(cluster: Cluster) -> None:
    a, b = _client(cluster, 0), _client(cluster, 1)
    thread_id = a.threads.create()["thread_id"]
    url = f"{cluster.servers[2].url}/threads/{thread_id}/stream"
    lines: list[str] = []
    with (
        httpx.Client(timeout=30) as http,
        http.stream("GET", url) as response,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        assert response.status_code == 200

        def runs() -> None:
            a.runs.wait(thread_id, "steps", input={}, config={"configurable": {"delay": 0.05}})
            b.runs.wait(thread_id, "steps", input={}, config={"configurable": {"delay": 0.05}})

        started = pool.submit(runs)
        for line in response.iter_lines():
            lines.append(line)
            if sum('"run_done"' in seen for seen in lines) == 2:
                break
        started.result(timeout=30)
    updates = [line for line in lines if line.startswith("data:") and '"done"' in line]
    assert updates, lines
    assert sum('"run_done"' in line for line in lines) == 2
