"""``http`` in langgraph.json through a real ``runyard serve``: the user's app, ``disable_*`` flags,
``mount_prefix``, and the start-up refusals. The HTTP composition does not depend on the backend,
so these servers run on SQLite only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from runyard import cli

from .server import ServerProcess

PROJECT = Path(__file__).parent / "http_project"
CUSTOM_APP = f"{PROJECT / 'custom_app.py'}:app"
ECHO = f"{Path(__file__).resolve().parents[2] / 'examples' / 'echo.py'}:graph"


def write_project(directory: Path, http: dict[str, Any]) -> Path:
    """A langgraph.json in ``directory`` serving the echo graph with ``http`` as given."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "langgraph.json"
    config.write_text(json.dumps({"graphs": {"echo": ECHO}, "http": http}))
    return config


def _serve(data_dir: Path, config: Path, **start: Any) -> ServerProcess:
    server = ServerProcess(data_dir, config=config)
    server.start(**start)
    return server


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """tests/api/http_project: the user's app, assistants and store routes disabled."""
    server = _serve(tmp_path_factory.mktemp("custom"), PROJECT / "langgraph.json")
    yield server
    server.stop_cleanly()


@pytest.fixture(scope="module")
def prefixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Everything under /api/v1, meta routes disabled, and no dev mode (``--no-dev``)."""
    base = tmp_path_factory.mktemp("prefixed")
    config = write_project(
        base / "project", {"app": CUSTOM_APP, "mount_prefix": "/api/v1", "disable_meta": True}
    )
    server = _serve(base / "state", config, args=["--no-dev"])
    yield server
    server.stop_cleanly()


# -- the user's app beside the API -------------------------------------------------------------


def test_a_custom_route_reads_the_state_its_lifespan_set(custom: ServerProcess) -> None:
    """The user's lifespan ran: app.state and the state it yielded reach the user's route."""
    answer = httpx.get(f"{custom.url}/custom/hello")
    assert answer.status_code == 200
    assert answer.json() == {"greeting": "hello from the custom lifespan", "started_by": "custom lifespan"}


def test_the_users_middleware_wraps_its_routes_and_the_apis(custom: ServerProcess) -> None:
    """x-custom-middleware is on a custom route's answer and on the API's, as langgraph-api does."""
    assert httpx.get(f"{custom.url}/custom/hello").headers["x-custom-middleware"] == "yes"
    created = httpx.post(f"{custom.url}/threads", json={})
    assert created.status_code == 200
    assert created.headers["x-custom-middleware"] == "yes"
    assert httpx.get(f"{custom.url}/nowhere").headers["x-custom-middleware"] == "yes"


def test_user_routes_shadow_the_api_except_health_and_docs(custom: ServerProcess) -> None:
    """GET /info is the user's; /ok and /openapi.json stay the API's (langgraph-api's precedence)."""
    assert httpx.get(f"{custom.url}/info").json() == {"server": "custom"}
    assert "runs" in httpx.get(f"{custom.url}/ok").json()
    assert httpx.get(f"{custom.url}/openapi.json").json()["info"]["title"] == "runyard"


async def test_the_api_still_runs_graphs_beside_the_users_app(custom: ServerProcess) -> None:
    """Threads and runs work through the SDK on a server that also serves the user's app."""
    client = get_client(url=custom.url, api_key=None)
    thread = await client.threads.create()
    values = await client.runs.wait(thread["thread_id"], "echo", input={"text": "beside"})
    assert values["text"] == "beside"


def test_the_apis_errors_keep_their_shape_under_the_users_app(custom: ServerProcess) -> None:
    """The API's own error handling still answers its routes: a malformed id is a 422, a missing thread 404."""
    assert httpx.get(f"{custom.url}/threads/not-a-uuid").status_code == 422
    missing = httpx.get(f"{custom.url}/threads/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]


def test_disabled_routers_are_not_mounted(custom: ServerProcess) -> None:
    """disable_assistants: /assistants/* answers 404 and leaves the schema; runs still take a graph name."""
    assert httpx.post(f"{custom.url}/assistants/search", json={}).status_code == 404
    paths = httpx.get(f"{custom.url}/openapi.json").json()["paths"]
    assert not any(path.startswith("/assistants") for path in paths)
    assert "/threads" in paths


def test_the_users_fastapi_operations_join_the_schema(custom: ServerProcess) -> None:
    """The user's FastAPI routes are listed in /openapi.json next to the API's."""
    paths = httpx.get(f"{custom.url}/openapi.json").json()["paths"]
    assert "get" in paths["/custom/hello"]
    assert "/threads/{thread_id}/runs/wait" in paths


def test_the_users_lifespan_starts_after_and_stops_before_the_server(tmp_path: Path) -> None:
    """The user's lifespan is entered at start and exited on SIGTERM, its shutdown code included."""
    marker = tmp_path / "marker"
    server = _serve(tmp_path / "state", PROJECT / "langgraph.json", env={"CUSTOM_APP_MARKER": str(marker)})
    assert marker.read_text().split() == ["started"]
    server.stop_cleanly()
    assert marker.read_text().split() == ["started", "stopped"]


# -- flags, prefix, dev mode -------------------------------------------------------------------


def test_disable_runs_and_threads_drop_their_routes(tmp_path: Path) -> None:
    """With disable_runs and disable_threads only meta and assistants answer."""
    config = write_project(tmp_path / "project", {"disable_runs": True, "disable_threads": True})
    server = _serve(tmp_path / "state", config)
    try:
        assert httpx.post(f"{server.url}/threads", json={}).status_code == 404
        assert httpx.post(f"{server.url}/runs/wait", json={"assistant_id": "echo"}).status_code == 404
        assert httpx.post(f"{server.url}/assistants/search", json={}).status_code == 200
        paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
        assert not any(path.startswith(("/threads", "/runs")) for path in paths)
    finally:
        server.stop_cleanly()


async def test_mount_prefix_serves_the_api_under_it(prefixed: ServerProcess) -> None:
    """The SDK pointed at <url>/api/v1 runs a graph; the bare paths are not served."""
    client = get_client(url=f"{prefixed.url}/api/v1", api_key=None)
    values = await client.runs.wait(None, "echo", input={"text": "prefixed"})
    assert values["text"] == "prefixed"
    async with httpx.AsyncClient(base_url=prefixed.url) as http:
        assert (await http.post("/threads", json={})).status_code == 404
        assert (await http.get("/api/v1/custom/hello")).json()["started_by"] == "custom lifespan"


def test_health_stays_at_the_root_under_a_prefix(prefixed: ServerProcess) -> None:
    """/ok answers at the root and under the prefix; disable_meta leaves it as {"ok": true}."""
    assert httpx.get(f"{prefixed.url}/ok").json() == {"ok": True}
    assert httpx.get(f"{prefixed.url}/api/v1/ok").json() == {"ok": True}


def test_disable_meta_drops_info_docs_and_schema(prefixed: ServerProcess) -> None:
    """disable_meta: the API serves no /info, docs or schema; the user's FastAPI app answers its own."""
    assert httpx.get(f"{prefixed.url}/api/v1/info").json() == {"server": "custom"}
    paths = httpx.get(f"{prefixed.url}/api/v1/openapi.json").json()["paths"]
    assert "/custom/hello" in paths and "/threads" not in paths
    assert httpx.get(f"{prefixed.url}/").status_code == 404


def test_no_dev_mode_has_no_truncate(prefixed: ServerProcess) -> None:
    """--no-dev: POST /internal/truncate is not there."""
    assert httpx.post(f"{prefixed.url}/api/v1/internal/truncate", json={}).status_code == 404


# -- start-up refusals -------------------------------------------------------------------------


def _refusal(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    code = cli.main(
        ["serve", "--config", str(config), "--port", "1", "--data-dir", str(config.parent), *extra]
    )
    assert code == 2
    return capsys.readouterr().err


def test_an_http_app_that_is_not_starlette_is_refused_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """http.app naming a dict stops the server at start with a message naming the key and the spec."""
    config = write_project(tmp_path, {"app": f"{PROJECT / 'custom_app.py'}:not_an_app"})
    err = _refusal(config, capsys)
    assert "http.app" in err and "not_an_app" in err and "not a Starlette or FastAPI application" in err


def test_a_bad_mount_prefix_is_refused_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """mount_prefix must start with '/' and not end with one; the message says so."""
    err = _refusal(write_project(tmp_path, {"mount_prefix": "api/"}), capsys)
    assert "http.mount_prefix" in err and "must start with '/'" in err


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LANGGRAPH_CONFIG", "{not json", "LANGGRAPH_CONFIG must be valid JSON"),
        ("LANGGRAPH_CONFIG", '["echo"]', "must be a JSON object mapping graph ids"),
        ("LANGGRAPH_CONFIG", '{"echo": {"configurable": 3}}', "LANGGRAPH_CONFIG['echo'].configurable"),
        ("RUNYARD_DEV", "maybe", "RUNYARD_DEV='maybe'"),
    ],
)
def test_a_bad_environment_variable_is_refused_at_start(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    message: str,
) -> None:
    """An unusable LANGGRAPH_CONFIG or RUNYARD_DEV stops the server at start, naming the variable."""
    monkeypatch.setenv(variable, value)
    assert message in _refusal(write_project(tmp_path, {}), capsys)
