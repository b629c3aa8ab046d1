"""Schemathesis against a live server's ``/openapi.json``: no request makes it answer 5xx.

Every operation of the schema gets a bounded number of generated requests (schema-valid ones and
a few schema-violating ones from schemathesis' coverage phase), derandomized so a run is
repeatable. Random ids only reach "not found", so the hooks below swap in, some of the time, the
ids of a thread that has a finished run and the name of a real graph: that takes requests past
the lookups into state reads, state updates, joins and run admission. ``after_seconds`` is capped
so a generated week-long delay cannot hold a ``/wait`` (the bound itself is the model's). The
server must also log no traceback: a stream that fails after its 200 status shows up only there.
SQLite only: the HTTP layer under test is the same on both backends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from runyard.graphs import assistant_id_for

from .server import ServerProcess

MAX_EXAMPLES = int(os.environ.get("RUNYARD_FUZZ_EXAMPLES", "100"))
GRAPH = "echo"


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A SQLite server for the whole module, checked for tracebacks when it stops."""
    server = ServerProcess(tmp_path_factory.mktemp("fuzz"))
    server.start()
    yield server
    server.stop_cleanly()


def _known_ids(url: str) -> dict[str, list[str]]:
    """Path-parameter values that exist: a thread with a finished run, its run and checkpoint."""
    with httpx.Client(base_url=url, timeout=30) as client:
        thread_id = client.post("/threads", json={}).raise_for_status().json()["thread_id"]
        client.post(
            f"/threads/{thread_id}/runs/wait", json={"assistant_id": GRAPH, "input": {"text": "hi"}}
        ).raise_for_status()
        run_id = client.get(f"/threads/{thread_id}/runs").raise_for_status().json()[0]["run_id"]
        state = client.get(f"/threads/{thread_id}/state").raise_for_status().json()
    return {
        "thread_id": [thread_id],
        "run_id": [run_id],
        "checkpoint_id": [state["checkpoint"]["checkpoint_id"]],
        "assistant_id": [assistant_id_for(GRAPH), GRAPH],
    }


def _tame(body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("after_seconds"), int | float):
        return {**body, "after_seconds": min(body["after_seconds"], 0.2)}
    if isinstance(body, list):
        return [_tame(item) for item in body]
    return body


def _with_graph(body: Any) -> Any:
    if isinstance(body, dict) and "assistant_id" in body:
        return {**body, "assistant_id": GRAPH}
    if isinstance(body, list):
        return [_with_graph(item) for item in body]
    return body


@pytest.fixture(scope="module")
def api_schema(fuzz_server: ServerProcess) -> Any:
    """The served schema, with hooks that mix real ids and a real graph into generated requests."""
    known = _known_ids(fuzz_server.url)
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
        if not isinstance(path_parameters, dict) or context.operation.method.upper() == "DELETE":
            return st.just(path_parameters)  # DELETE: keep the known thread and run alive
        return st.fixed_dictionaries(
            {name: st.sampled_from([value, *known.get(name, [])]) for name, value in path_parameters.items()}
        )

    @schema.hook
    def flatmap_body(context: Any, body: Any) -> Any:
        return st.sampled_from([_tame(body), _tame(_with_graph(body))])

    return schema


# Every operation of the served schema; test_the_list_is_every_operation keeps it complete.
# (schemathesis' own pytest integration relies on pytest internals that pytest 9 removed.)
OPERATIONS = [
    "GET /ok",
    "GET /",
    "GET /info",
    "POST /assistants/search",
    "POST /assistants/count",
    "GET /assistants/{assistant_id}",
    "GET /assistants/{assistant_id}/graph",
    "GET /assistants/{assistant_id}/schemas",
    "POST /assistants",
    "PATCH /assistants/{assistant_id}",
    "DELETE /assistants/{assistant_id}",
    "POST /assistants/{assistant_id}/versions",
    "POST /assistants/{assistant_id}/latest",
    "GET /assistants/{assistant_id}/subgraphs",
    "GET /assistants/{assistant_id}/subgraphs/{namespace}",
    "POST /threads",
    "POST /threads/search",
    "POST /threads/count",
    "POST /threads/prune",
    "GET /threads/{thread_id}",
    "PATCH /threads/{thread_id}",
    "DELETE /threads/{thread_id}",
    "GET /threads/{thread_id}/state",
    "POST /threads/{thread_id}/state",
    "GET /threads/{thread_id}/state/{checkpoint_id}",
    "POST /threads/{thread_id}/state/checkpoint",
    "POST /threads/{thread_id}/history",
    "GET /threads/{thread_id}/history",
    "POST /threads/{thread_id}/copy",
    "GET /threads/{thread_id}/stream",
    "POST /threads/{thread_id}/runs",
    "GET /threads/{thread_id}/runs",
    "POST /threads/{thread_id}/runs/stream",
    "POST /threads/{thread_id}/runs/wait",
    "GET /threads/{thread_id}/runs/{run_id}",
    "DELETE /threads/{thread_id}/runs/{run_id}",
    "GET /threads/{thread_id}/runs/{run_id}/join",
    "GET /threads/{thread_id}/runs/{run_id}/stream",
    "POST /threads/{thread_id}/runs/{run_id}/cancel",
    "POST /runs",
    "POST /runs/batch",
    "POST /runs/stream",
    "POST /runs/wait",
    "POST /runs/cancel",
    "PUT /store/items",
    "GET /store/items",
    "DELETE /store/items",
    "POST /store/items/search",
    "POST /store/namespaces",
]


ENDLESS = frozenset({"GET /threads/{thread_id}/stream"})
"""Operations whose response to a valid request stays open until the client leaves."""


def _strategy(operation: Any) -> Any:
    """Schema-valid requests, and (where the schema allows any) schema-violating ones."""
    positive = operation.as_strategy()
    try:
        negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    except Exception:  # an operation with nothing to violate
        return positive
    return st.one_of(positive, negative)


@pytest.mark.parametrize("name", OPERATIONS)
def test_no_request_gets_a_server_error(api_schema: Any, name: str) -> None:
    """Whatever the request to this operation, valid or not, the answer is never a 5xx."""
    method, path = name.split(" ", 1)
    operation = api_schema[path][method]
    if name in ENDLESS:
        _fuzz_endless(operation)
        return

    @given(case=_strategy(operation))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=os.environ.get("RUNYARD_FUZZ_RANDOM") != "1",
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        case.call_and_validate(checks=[not_a_server_error], timeout=30)

    fuzz()


def _fuzz_endless(operation: Any) -> None:
    """``fuzz`` for a response that never ends: schemathesis reads an event stream for
    ``timeout`` seconds, so keep that short. (A function of its own: hypothesis derives its
    examples from the test's source, and the other operations keep theirs.)"""

    @given(case=_strategy(operation))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=os.environ.get("RUNYARD_FUZZ_RANDOM") != "1",
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        case.call_and_validate(checks=[not_a_server_error], timeout=3)

    fuzz()


def test_the_list_is_every_operation(fuzz_server: ServerProcess) -> None:
    """OPERATIONS names exactly the operations of the served schema, so none goes unfuzzed."""
    paths = httpx.get(f"{fuzz_server.url}/openapi.json").json()["paths"]
    served = {f"{method.upper()} {path}" for path, item in paths.items() for method in item}
    assert served == set(OPERATIONS)


def test_every_operation_is_in_the_schema(fuzz_server: ServerProcess) -> None:
    """The fuzzed schema covers the API: thread, run, stateless, batch and assistant routes are there."""
    paths = httpx.get(f"{fuzz_server.url}/openapi.json").json()["paths"]
    for path in ("/threads", "/threads/{thread_id}/runs/wait", "/runs/batch", "/assistants/search", "/ok"):
        assert path in paths
    assert not any(path.startswith("/internal") for path in paths)


def test_the_module_sees_no_traceback(fuzz_server: ServerProcess) -> None:
    """Nothing the fuzzer sent made the server log a traceback (checked again when it stops)."""
    assert "Traceback" not in fuzz_server.log(), fuzz_server.log()[-5000:]
