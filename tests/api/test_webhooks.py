"""Run webhooks through real HTTP: a real server POSTs to a real receiver on 127.0.0.1.

As langgraph-api: the URL is checked when the run is created (a 422 naming the webhook and the
reason; loopback is refused unless ``webhooks.url.disable_loopback`` is false), and when the run
ends its body (the run, ``status``, timestamps, ``values``, ``error``) is POSTed; a failing
receiver is retried, then logged, and never changes the run.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import UnprocessableEntityError

from services import free_port

from .server import EXAMPLES, ServerProcess, poll

EXAMPLES_DIR = EXAMPLES.parent


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records what it is sent; ``fail_first`` answers 500
    to that many requests first."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.fail_first = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append((self.path, dict(self.headers), json.loads(body)))
                failing = receiver.fail_first > 0
                receiver.fail_first -= 1
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for p, _, body in self.requests if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _project(directory: Path, webhooks: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "dependencies": [str(EXAMPLES_DIR)],
        "graphs": {
            "bench_fast": f"{EXAMPLES_DIR / 'bench.py'}:fast",
            "fail": f"{EXAMPLES_DIR / 'fail.py'}:graph",
            "hitl": f"{EXAMPLES_DIR / 'hitl.py'}:graph",
        },
        "webhooks": webhooks,
    }
    path = directory / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def hook_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server whose project allows loopback webhooks and adds a header to each call."""
    root = tmp_path_factory.mktemp("webhooks")
    config = _project(
        root / "project", {"url": {"disable_loopback": False}, "headers": {"X-Runyard-Test": "yes"}}
    )
    database_url = request.getfixturevalue("module_postgres_url") if request.param == "postgres" else None
    proc = ServerProcess(root / "state", database_url=database_url, config=config)
    proc.start()
    try:
        yield proc
    finally:
        code = proc.stop()
        assert code in (0, -15, None), f"server exited with {code}\n{proc.log()}"
        assert "Traceback" not in proc.log(), proc.log()


@pytest.fixture
def client(hook_server: ServerProcess) -> Any:
    return get_client(url=hook_server.url, api_key=None)


async def test_a_finished_run_is_posted_to_its_webhook(client: Any, receiver: Receiver) -> None:
    """A thread run with a webhook: once it ends, its body (run, status, timestamps, final
    values) is POSTed with the configured header; the run is unaffected."""
    path = f"/done/{uuid.uuid4()}"
    thread = await client.threads.create()
    run = await client.runs.create(
        thread["thread_id"],
        "bench_fast",
        input={"messages": []},
        webhook=receiver.url + path,
        metadata={"m": 1},
    )
    assert run["kwargs"]["webhook"] == receiver.url + path
    await client.runs.join(thread["thread_id"], run["run_id"])
    (body,) = poll(lambda: receiver.bodies(path), what="the webhook call")
    assert body["run_id"] == run["run_id"] and body["thread_id"] == thread["thread_id"]
    assert body["status"] == "success"
    assert body["metadata"]["m"] == 1 and body["kwargs"]["webhook"] == receiver.url + path
    assert [m["content"] for m in body["values"]["messages"]] == ["step 1", "step 2", "step 3"]
    for stamp in ("run_started_at", "run_ended_at", "webhook_sent_at", "created_at"):
        assert isinstance(body[stamp], str) and body[stamp]
    assert body["run_started_at"] <= body["run_ended_at"] <= body["webhook_sent_at"]
    assert "error" not in body
    (_, headers, _) = next(r for r in receiver.requests if r[0] == path)
    assert headers.get("X-Runyard-Test") == "yes"
    assert headers.get("Content-Type") == "application/json"
    assert (await client.runs.get(thread["thread_id"], run["run_id"]))["status"] == "success"


async def test_a_failed_run_posts_its_error_and_a_stateless_run_posts_too(
    client: Any, receiver: Receiver
) -> None:
    """A failing run's webhook carries status error and the serialised exception; stateless
    runs (wait) call their webhook as well."""
    path = f"/failed/{uuid.uuid4()}"
    result = await client.runs.wait(None, "fail", input={}, webhook=receiver.url + path, raise_error=False)
    assert result["__error__"]["error"] == "ValueError"
    (body,) = poll(lambda: receiver.bodies(path), what="the webhook call")
    assert body["status"] == "error"
    assert body["error"] == {"error": "ValueError", "message": "boom"}


async def test_an_interrupted_run_posts_its_status(client: Any, receiver: Receiver) -> None:
    """A run stopping at interrupt() ends success on langgraph-api (the thread is interrupted):
    its webhook says success and carries the values so far."""
    path = f"/hitl/{uuid.uuid4()}"
    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], "hitl", input={"topic": "t"}, webhook=receiver.url + path)
    (body,) = poll(lambda: receiver.bodies(path), what="the webhook call")
    assert body["status"] == "success"
    assert body["values"]["topic"] == "t" and body["values"]["draft"]
    assert "__interrupt__" not in body["values"]
    assert (await client.threads.get(thread["thread_id"]))["status"] == "interrupted"


async def test_a_failing_receiver_is_retried_and_never_fails_the_run(
    hook_server: ServerProcess, client: Any, receiver: Receiver
) -> None:
    """Two 500s then a 200: three attempts, the last delivered. A receiver that is not there:
    logged, and the run still ends success."""
    path = f"/flaky/{uuid.uuid4()}"
    receiver.fail_first = 2
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "bench_fast", input={}, webhook=receiver.url + path)
    await client.runs.join(thread["thread_id"], run["run_id"])
    bodies = poll(
        lambda: len(receiver.bodies(path)) == 3 and receiver.bodies(path), timeout=30, what="3 attempts"
    )
    assert {b["run_id"] for b in bodies} == {run["run_id"]}
    receiver.fail_first = 0

    gone = f"http://127.0.0.1:{free_port()}/nobody-home"
    run = await client.runs.create(thread["thread_id"], "bench_fast", input={}, webhook=gone)
    await client.runs.join(thread["thread_id"], run["run_id"])
    assert (await client.runs.get(thread["thread_id"], run["run_id"]))["status"] == "success"
    poll(lambda: "nobody-home" in hook_server.log(), timeout=30, what="the failed webhook to be logged")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/hook", "scheme"),
        ("/threads", "relative"),
        ("http://169.254.169.254/latest", "metadata"),
        ("http://[::ffff:169.254.169.254]/x", "metadata"),
        ("http://224.0.0.1/x", "blocked"),
        ("http://svc.default.svc.cluster.local/x", "Kubernetes"),
        ("http:///no-host", "hostname"),
        ("http://127.0.0.1:99999/x", "port"),
        ("http://" + "a" * 5000 + ".com/", "too long"),
    ],
)
async def test_a_bad_webhook_url_is_422_naming_it(client: Any, url: str, reason: str) -> None:
    """Refused at creation, by every creation route: a 422 naming the webhook and why; no run."""
    thread = await client.threads.create()
    with pytest.raises(UnprocessableEntityError) as refused:
        await client.runs.create(thread["thread_id"], "bench_fast", input={}, webhook=url)
    detail = str(refused.value.body)
    assert "webhook" in detail and reason in detail
    assert await client.runs.list(thread["thread_id"]) == []
    with pytest.raises(httpx.HTTPStatusError) as batch:
        await client.runs.create_batch([{"assistant_id": "bench_fast", "input": {}, "webhook": url}])
    assert batch.value.response.status_code == 422


def test_loopback_webhooks_are_refused_by_default(tmp_path: Path, receiver: Receiver) -> None:
    """Without ``disable_loopback: false`` (langgraph-api's default), 127.0.0.1 and localhost are
    refused with a 422 that says how to allow them; ``allowed_domains`` and ``require_https``
    are honoured; ``http.disable_webhooks`` keeps the check but sends nothing."""
    config = _project(
        tmp_path / "project", {"url": {"allowed_domains": ["*.example.com"], "require_https": True}}
    )
    server = ServerProcess(tmp_path / "state", config=config)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:

            def refused(webhook: str) -> str:
                answer = http.post(
                    "/runs", json={"assistant_id": "bench_fast", "input": {}, "webhook": webhook}
                )
                assert answer.status_code == 422, answer.text
                return str(answer.json()["detail"])

            assert "https" in refused("http://hooks.example.com/x")
            assert "not allowed" in refused("https://example.org/x")
            assert "https" in refused(receiver.url + "/x")
    finally:
        server.stop_cleanly()

    config = _project(tmp_path / "default", {})
    server = ServerProcess(tmp_path / "state2", config=config)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for url in (receiver.url + "/x", "http://localhost:1/x"):
                answer = http.post("/runs", json={"assistant_id": "bench_fast", "input": {}, "webhook": url})
                assert answer.status_code == 422
                assert "disable_loopback" in answer.text and "webhook" in answer.text
    finally:
        server.stop_cleanly()


def test_disable_webhooks_sends_nothing(tmp_path: Path, receiver: Receiver) -> None:
    """``http.disable_webhooks``: runs with a webhook are accepted and run, and nothing is sent."""
    directory = tmp_path / "project"
    config_path = _project(directory, {"url": {"disable_loopback": False}})
    config = json.loads(config_path.read_text())
    config["http"] = {"disable_webhooks": True}
    config_path.write_text(json.dumps(config))
    server = ServerProcess(tmp_path / "state", config=config_path)
    server.start()
    try:
        path = f"/disabled/{uuid.uuid4()}"
        with httpx.Client(base_url=server.url, timeout=30) as http:
            answer = http.post(
                "/runs/wait", json={"assistant_id": "bench_fast", "input": {}, "webhook": receiver.url + path}
            )
            assert answer.status_code == 200
            # The run has ended; give a send that should not happen a moment to show up.
            ok = http.get("/ok")
            assert ok.status_code == 200
        assert receiver.bodies(path) == []
    finally:
        server.stop_cleanly()
    assert receiver.bodies(path) == []  # after the drain too
