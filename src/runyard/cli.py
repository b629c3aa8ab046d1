"""``runyard serve``: serve a project's graphs behind the Agent Server API."""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import logging
import signal
import socket
import sys
from pathlib import Path

from .config import SettingsError, settings_from_env

logger = logging.getLogger("runyard.cli")


def _port_free(host: str, port: int) -> str | None:
    """None when ``host:port`` can be bound, else why not (uvicorn would fail less clearly)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use; pick another with --port"
            return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .api.app import create_app
    from .graphs import ConfigError, GraphRegistry

    try:
        settings = settings_from_env(
            config_path=Path(args.config),
            host=args.host,
            port=args.port,
            database_url=args.database_url,
            data_dir=Path(args.data_dir) if args.data_dir else None,
            max_concurrency=args.max_concurrency,
            dev_mode=False if args.no_dev else None,
            redis_url=args.redis_url,
            execute_runs=False if args.http_only else None,
        )
        registry = GraphRegistry.from_file(settings.config_path)
        app = create_app(settings, registry)
    except (ConfigError, SettingsError) as exc:
        print(f"runyard: {exc}", file=sys.stderr)
        return 2
    for graph_id in sorted(set(settings.assistant_configs) - set(registry.graph_ids)):
        logger.warning(
            "LANGGRAPH_CONFIG names graph %r, which %s does not have", graph_id, settings.config_path
        )
    problem = _port_free(settings.host, settings.port)
    if problem:
        print(f"runyard: {problem}", file=sys.stderr)
        return 2
    where = settings.database_url or str(settings.state_dir)
    mode = "dev mode" if settings.dev_mode else "production mode"
    if settings.cluster:
        mode += ", cluster" + ("" if settings.execute_runs else ", HTTP only")
    print(
        f"runyard: serving {len(registry)} graph(s) from {settings.config_path} on "
        f"http://{settings.host}:{settings.port} (state: {where}; {mode})",
        flush=True,
    )
    _freeze_startup_heap()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level, access_log=False)
    return 0


# Young-generation threshold 700 -> 20000: a run allocates thousands of short-lived containers,
# so the default collected the young generation several times per run and the whole heap every
# couple of hundred runs (~50-90 ms on the loop each time).
_GC_THRESHOLDS = (20_000, 10, 10)


def _freeze_startup_heap() -> None:
    """Move what start-up allocated (modules, graphs, the app) out of the collector's sight.

    Those objects live as long as the process; without this every full collection, which the
    allocations of runs trigger every few hundred runs, walks all of them again.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)


def _work(args: argparse.Namespace) -> int:
    """``runyard worker``: execute runs of a cluster, serve no HTTP; SIGTERM/SIGINT drain it."""
    from .api.services import open_services
    from .graphs import ConfigError, GraphRegistry

    try:
        settings = settings_from_env(
            config_path=Path(args.config),
            database_url=args.database_url,
            max_concurrency=args.max_concurrency,
            redis_url=args.redis_url,
        )
        if not settings.cluster:
            raise SettingsError(
                "runyard worker needs --redis-url and a Postgres --database-url (cluster mode)"
            )
        registry = GraphRegistry.from_file(settings.config_path)
    except (ConfigError, SettingsError) as exc:
        print(f"runyard: {exc}", file=sys.stderr)
        return 2

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with open_services(settings, registry) as services:
            print(
                f"runyard: worker {services.manager.owner} executing {len(registry)} graph(s) from "
                f"{settings.config_path} (state: {settings.database_url})",
                flush=True,
            )
            await stop.wait()
            print("runyard: worker draining", flush=True)

    try:
        asyncio.run(work())
    except Exception as exc:  # a service missing at start: say which, and exit non-zero
        print(f"runyard: {exc}", file=sys.stderr)
        return 1
    return 0


def _cluster_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis-url",
        default=None,
        help="cluster mode: Redis shared by every process on the same Postgres (or RUNYARD_REDIS_URL)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="runyard", description="Durable LangGraph runs behind the Agent Server API"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the graphs of a langgraph.json")
    serve.add_argument("--config", default="langgraph.json", help="path to langgraph.json")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=2024)
    serve.add_argument(
        "--database-url", default=None, help="postgresql://... (default: SQLite beside the config)"
    )
    serve.add_argument("--data-dir", default=None, help="state directory for the SQLite default (.runyard/)")
    serve.add_argument("--max-concurrency", type=int, default=None, help="runs executed at once (default 10)")
    serve.add_argument(
        "--no-dev",
        action="store_true",
        help="production mode: no dev-mode test helpers such as POST /internal/truncate (or RUNYARD_DEV=0)",
    )
    serve.add_argument("--log-level", default="info")
    _cluster_flags(serve)
    serve.add_argument(
        "--http-only", action="store_true", help="cluster mode: serve the API, leave execution to workers"
    )
    worker = commands.add_parser("worker", help="execute runs of a cluster without serving HTTP")
    worker.add_argument("--config", default="langgraph.json", help="path to langgraph.json")
    worker.add_argument("--database-url", default=None, help="postgresql://... shared by the cluster")
    worker.add_argument(
        "--max-concurrency", type=int, default=None, help="runs executed at once (default 10)"
    )
    worker.add_argument("--log-level", default="info")
    _cluster_flags(worker)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "serve":
        return _serve(args)
    if args.command == "worker":
        return _work(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
