"""Runs survive the death of the process that ran them: kill -9 and SIGTERM, then restart."""

from __future__ import annotations

import collections
import time
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_sync_client

from .server import ServerProcess, poll

PROJECT = Path(__file__).parent / "project" / "langgraph.json"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def journal_server(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    database_url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    server = ServerProcess(tmp_path / "state", database_url=database_url, config=PROJECT)
    journal = tmp_path / "journal.log"
    journal.touch()
    env = {"RUNYARD_TEST_JOURNAL": str(journal)}
    server.start(env=env)
    yield server, journal, env
    server.stop()


def _counts(journal: Path, run_id: str) -> collections.Counter[str]:
    lines = [line.split(" ", 1)[1] for line in journal.read_text().splitlines() if line.startswith(run_id)]
    return collections.Counter(lines)


def _started(journal: Path, run_id: str, node: str) -> bool:
    return _counts(journal, run_id)[f"{node} start"] >= 1


@pytest.mark.parametrize("stop", ["kill", "sigterm"])
def test_run_resumes_from_its_checkpoint_after_the_process_dies(journal_server: Any, stop: str) -> None:
    """After kill -9 (or a drained SIGTERM) mid-run and a restart, the run completes under its own
    run_id, and every node ran once except the one in flight when the process stopped."""
    server, journal, env = journal_server
    client = get_sync_client(url=server.url, api_key=None)
    thread = client.threads.create()
    run = client.runs.create(
        thread["thread_id"], "journal", input={}, config={"configurable": {"delay": 0.4}}
    )
    run_id = run["run_id"]
    poll(lambda: _started(journal, run_id, "step_2"), what="step_2 to start")
    if stop == "kill":
        server.kill()
    else:
        assert server.stop() in (0, -15)
        assert "Traceback" not in server.log(), server.log()
    server.start(env=env)
    client = get_sync_client(url=server.url, api_key=None)
    final = poll(
        lambda: (
            (r := client.runs.get(thread["thread_id"], run_id))["status"] not in ("pending", "running") and r
        ),
        timeout=60,
        what="the resumed run to finish",
    )
    assert final["status"] == "success"
    counts = _counts(journal, run_id)
    assert counts["step_1 start"] == counts["step_1 end"] == 1
    assert counts["step_2 end"] == 1
    assert counts["step_2 start"] in (1, 2)  # in flight at the stop: re-run at most once
    assert counts["step_3 start"] == counts["step_3 end"] == 1
    assert counts["step_4 start"] == counts["step_4 end"] == 1
    state = client.threads.get_state(thread["thread_id"])
    assert state["values"]["done"] == ["step_1", "step_2", "step_3", "step_4"]
    assert [r["run_id"] for r in client.runs.list(thread["thread_id"])] == [run_id]
    assert client.threads.get(thread["thread_id"])["status"] == "idle"


def _first_seen(journal: Path, run_id: str, node: str, timeout: float) -> float:
    """The wall-clock time the test first saw ``node`` start in ``run_id`` (polled every 50 ms)."""
    poll(lambda: _started(journal, run_id, node), timeout=timeout, interval=0.05, what=f"{node} of {run_id}")
    return time.time()


def test_delayed_runs_keep_their_schedule_across_a_restart(journal_server: Any) -> None:
    """after_seconds survives kill -9: a delayed run whose time passed while the server was down
    starts at once on restart; one still due later starts at its original due time, not a full
    delay after the restart. Both stay pending (not started) until then."""
    server, journal, env = journal_server
    client = get_sync_client(url=server.url, api_key=None)
    config = {"configurable": {"delay": 0.05}}
    late_thread, soon_thread = client.threads.create(), client.threads.create()
    created = time.time()
    late = client.runs.create(late_thread["thread_id"], "journal", input={}, config=config, after_seconds=14)
    soon = client.runs.create(soon_thread["thread_id"], "journal", input={}, config=config, after_seconds=3)
    server.kill()
    assert _counts(journal, late["run_id"]) == _counts(journal, soon["run_id"]) == collections.Counter()
    poll(lambda: time.time() > created + 3.2, timeout=10, what="the short delay to pass while down")
    server.start(env=env)
    up = time.time()
    assert up < created + 14 - 2, "the restart took too long for this test to tell the schedules apart"
    client = get_sync_client(url=server.url, api_key=None)
    assert client.runs.get(late_thread["thread_id"], late["run_id"])["status"] == "pending"

    soon_started = _first_seen(journal, soon["run_id"], "step_1", timeout=30)
    assert soon_started < up + 2.0  # at once, not 3 s after the restart

    assert not _started(journal, late["run_id"], "step_1")
    late_started = _first_seen(journal, late["run_id"], "step_1", timeout=40)
    assert late_started >= created + 14 - 0.2  # not before its original due time
    assert late_started < up + 14 - 1.0  # and not a whole delay after the restart
    for thread, run in ((soon_thread, soon), (late_thread, late)):
        final = poll(
            lambda t=thread, r=run: (
                (got := client.runs.get(t["thread_id"], r["run_id"]))["status"] not in ("pending", "running")
                and got
            ),
            timeout=30,
            what="the delayed run to finish",
        )
        assert final["status"] == "success"
        assert _counts(journal, run["run_id"])["step_4 end"] == 1
