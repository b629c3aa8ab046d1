"""Run webhooks: the URL checked when the run is created, the run POSTed to it when it ends.

As langgraph-api does (its ``webhook.py``): the URL is validated against a policy at creation
(a 422 naming the problem) and again before sending; the body is the run as ``GET`` returns it
plus ``status``, ``run_started_at``, ``run_ended_at``, ``webhook_sent_at``, ``values`` (the
run's final values) and ``error`` (when it failed); delivery is tried up to three times on
network errors, 5xx and 429, and a failure is logged, never reflected on the run. Delivery is
not durable: a webhook due when the process stops is lost, as in langgraph-api.

The policy is ``langgraph.json``'s ``webhooks`` (or the ``LANGGRAPH_WEBHOOKS`` environment
variable, the JSON langgraph-cli passes): ``url.allowed_domains`` (``*.`` wildcards),
``url.allowed_ports``, ``url.require_https``, ``url.disable_loopback`` (default true: localhost
and 127.0.0.0/8 are refused unless it is set to false), ``url.disable_private_ips``,
``url.max_url_length``, ``headers`` (static headers; langgraph-api's ``{{ env.X }}`` templates
are not expanded) and ``allowed_fields``; ``http.disable_webhooks`` turns sending off.
Link-local, multicast, reserved and documentation ranges, cloud metadata endpoints and
Kubernetes-internal names are always refused. Relative URLs (langgraph-api's in-process calls)
are refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlparse

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..graphs.errors import ConfigError
from ..runs import serde
from ..runs.executor import RunHooks, RunOutcome
from ..runs.record import RunRecord

logger = logging.getLogger(__name__)

PayloadField = Literal[
    "run_id",
    "thread_id",
    "assistant_id",
    "created_at",
    "updated_at",
    "status",
    "metadata",
    "kwargs",
    "multitask_strategy",
    "run_started_at",
    "run_ended_at",
    "webhook_sent_at",
    "values",
    "error",
]

_ALWAYS_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",
        "0.0.0.0/8",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "fe80::/10",
        "ff00::/8",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
    )
)
_LOOPBACK = tuple(ipaddress.ip_network(n) for n in ("127.0.0.0/8", "::1/128"))
_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
_METADATA_IPS = frozenset({"169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254"})
_METADATA_HOSTS = frozenset(
    {"metadata.google.internal", "metadata.amazonaws.com", "metadata", "instance-data"}
)
_LOCALHOST_NAMES = frozenset({"localhost", "localhost.localdomain", "host.docker.internal"})
_K8S_SUFFIX = ".svc.cluster.local"
_ATTEMPTS = 3


class _UrlPolicy(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    allowed_domains: list[str] = Field(default_factory=list)
    allowed_ports: list[int] = Field(default_factory=list)
    require_https: bool = False
    disable_loopback: bool = True
    disable_private_ips: bool = False
    max_url_length: int = Field(default=4096, ge=1)

    @field_validator("allowed_domains")
    @classmethod
    def _wildcards(cls, domains: list[str]) -> list[str]:
        for domain in domains:
            pattern = domain.strip()
            if not pattern or "*" in (pattern[2:] if pattern.startswith("*.") else pattern):
                raise ValueError(f"{domain!r}: a non-empty name, with a wildcard only as a '*.' prefix")
        return domains


class _WebhooksConfig(BaseModel):
    # ``env_prefix`` belongs to langgraph-api's header templates, which runyard does not expand.
    model_config = ConfigDict(strict=True, extra="forbid")

    url: _UrlPolicy = Field(default_factory=_UrlPolicy)
    headers: dict[str, str] = Field(default_factory=dict)
    allowed_fields: list[PayloadField] | None = None
    env_prefix: str | None = None


class WebhookRefused(ValueError):
    """A webhook URL the policy refuses; the message says why."""


class WebhookConfigError(ConfigError):
    """``webhooks`` in ``langgraph.json`` (or ``LANGGRAPH_WEBHOOKS``) is malformed: the server
    does not start, and the message names the key."""


@dataclass(frozen=True)
class WebhookPolicy:
    """``webhooks`` of ``langgraph.json``, as langgraph-api reads it (see the module docstring)."""

    allowed_domains: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] = ()
    require_https: bool = False
    disable_loopback: bool = True
    disable_private_ips: bool = False
    max_url_length: int = 4096
    headers: dict[str, str] = field(default_factory=dict)
    allowed_fields: frozenset[str] = frozenset()
    disabled: bool = False

    @classmethod
    def from_config(cls, raw: Any, *, disabled: bool = False) -> WebhookPolicy:
        """The policy from ``webhooks`` (a mapping, or ``None`` for the defaults)."""
        if raw is None:
            return cls(disabled=disabled)
        try:
            config = _WebhooksConfig.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(["webhooks", *(str(part) for part in first["loc"])])
            raise WebhookConfigError(f"{where}: {first['msg']}") from exc
        url = config.url
        return cls(
            allowed_domains=tuple(d.strip().lower() for d in url.allowed_domains),
            allowed_ports=tuple(url.allowed_ports),
            require_https=url.require_https,
            disable_loopback=url.disable_loopback,
            disable_private_ips=url.disable_private_ips,
            max_url_length=url.max_url_length,
            headers=dict(config.headers),
            allowed_fields=frozenset(config.allowed_fields or ()),
            disabled=disabled,
        )

    @classmethod
    def from_project(cls, extra: dict[str, Any], *, disabled: bool = False) -> WebhookPolicy:
        """From ``langgraph.json``'s ``webhooks``, else the ``LANGGRAPH_WEBHOOKS`` variable."""
        raw = extra.get("webhooks")
        if raw is None and os.environ.get("LANGGRAPH_WEBHOOKS"):
            try:
                raw = json.loads(os.environ["LANGGRAPH_WEBHOOKS"])
            except json.JSONDecodeError as exc:
                raise WebhookConfigError(f"LANGGRAPH_WEBHOOKS is not valid JSON: {exc.msg}") from exc
        return cls.from_config(raw, disabled=disabled)

    def _domain_allowed(self, host: str) -> bool:
        return any(
            host.endswith(pattern[1:]) if pattern.startswith("*.") else host == pattern
            for pattern in self.allowed_domains
        )

    def _check_ip(self, address: str) -> None:
        ip = ipaddress.ip_address(address)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if str(ip) in _METADATA_IPS:
            raise WebhookRefused("Webhook host blocked: cloud metadata endpoint")
        if any(ip in net for net in _ALWAYS_BLOCKED if net.version == ip.version):
            raise WebhookRefused(f"Webhook host blocked: {ip} is in a blocked IP range")
        if self.disable_loopback and any(ip in net for net in _LOOPBACK if net.version == ip.version):
            raise WebhookRefused(
                f"Webhook host blocked: {ip} is a loopback address; loopback webhooks are disabled "
                "unless langgraph.json sets webhooks.url.disable_loopback to false"
            )
        if self.disable_private_ips and any(ip in net for net in _PRIVATE if net.version == ip.version):
            raise WebhookRefused(f"Webhook host blocked: {ip} is in a private IP range")

    async def validate(self, url: str) -> None:
        """Refuse a URL the policy does not allow (``WebhookRefused`` says why); resolves DNS."""
        if len(url) > self.max_url_length:
            raise WebhookRefused(f"Webhook URL too long (over {self.max_url_length} characters)")
        if url.startswith("/"):
            raise WebhookRefused(
                "Webhook URL must be absolute (http or https); relative URLs are not supported"
            )
        parsed = urlparse(url)
        scheme = parsed.scheme.lower()
        if scheme not in ("http", "https"):
            raise WebhookRefused(f"Webhook URL scheme {scheme!r} not allowed: use http or https")
        if self.require_https and scheme != "https":
            raise WebhookRefused("Webhook must use https")
        try:
            port = parsed.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise WebhookRefused(f"Invalid webhook URL port: {exc}") from exc
        if self.allowed_ports and port not in self.allowed_ports:
            raise WebhookRefused(f"Webhook port {port} not allowed")
        host = (parsed.hostname or "").lower()
        if not host:
            raise WebhookRefused(f"Invalid webhook hostname in {url!r}")
        if self.allowed_domains and not self._domain_allowed(host):
            raise WebhookRefused(f"Webhook domain {host!r} not allowed")
        if self.allowed_domains and self._domain_allowed(host):
            return  # an operator-allowed host skips the address checks, as in langgraph-api
        if host in _METADATA_HOSTS:
            raise WebhookRefused("Webhook host blocked: cloud metadata endpoint")
        if host.endswith(_K8S_SUFFIX):
            raise WebhookRefused("Webhook host blocked: Kubernetes internal DNS")
        if host in _LOCALHOST_NAMES:
            if self.disable_loopback:
                raise WebhookRefused(
                    f"Webhook host blocked: {host} is a loopback address; loopback webhooks are "
                    "disabled unless langgraph.json sets webhooks.url.disable_loopback to false"
                )
            return
        try:
            infos = await asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise WebhookRefused(f"Webhook host blocked: DNS resolution of {host!r} failed") from exc
        for *_, sockaddr in infos:
            self._check_ip(str(sockaddr[0]))


def webhook_policy(graphs: Any) -> WebhookPolicy:
    """The project's policy (``webhooks`` and ``http.disable_webhooks`` of its ``langgraph.json``)."""
    config = getattr(graphs, "config", None)
    http = getattr(config, "http", None)
    extra = getattr(config, "extra", None) or {}
    return WebhookPolicy.from_project(extra, disabled=bool(getattr(http, "disable_webhooks", False)))


def _error_body(error: str | None) -> dict[str, str] | None:
    """The run's ``"Type: message"`` error as langgraph-api serialises the exception."""
    if not error:
        return None
    name, _, message = error.partition(": ")
    return {"error": name, "message": message}


class WebhookSender:
    """POSTs finished runs to their webhooks in the background; ``close`` waits for them briefly."""

    def __init__(self, policy: WebhookPolicy, *, timeout: float = 30.0) -> None:
        self.policy = policy
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=False)
        self._tasks: set[asyncio.Task[None]] = set()

    def payload(self, outcome: RunOutcome, started_at: str | None, run: dict[str, Any]) -> dict[str, Any]:
        values = outcome.values
        if isinstance(values, dict) and "__interrupt__" in values:
            # langgraph-api sends the last checkpoint's values, which hold no ``__interrupt__``.
            values = {k: v for k, v in values.items() if k != "__interrupt__"}
        body: dict[str, Any] = {
            **run,
            # langgraph-api reports a rolled-back run's outcome as ``rollback``.
            "status": "rollback" if outcome.rolled_back else outcome.status.value,
            "run_started_at": started_at,
            "run_ended_at": datetime.now(UTC).isoformat(),
            "webhook_sent_at": None,
            "values": values,
        }
        error = _error_body(outcome.error)
        if error is not None:
            body["error"] = error
        return body

    def send(self, url: str, payload: dict[str, Any]) -> None:
        task = asyncio.create_task(
            self._deliver(url, payload), name=f"runyard-webhook:{payload.get('run_id')}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, payload: dict[str, Any]) -> None:
        run_id = payload.get("run_id")
        try:
            await self.policy.validate(url)  # again: DNS may have changed since the run began
            payload["webhook_sent_at"] = datetime.now(UTC).isoformat()
            if self.policy.allowed_fields:
                payload = {k: v for k, v in payload.items() if k in self.policy.allowed_fields}
            content = serde.dumps(payload)  # values as the run streamed them (messages etc.)
            headers = {"Content-Type": "application/json", **self.policy.headers}
            for attempt in range(1, _ATTEMPTS + 1):
                try:
                    response = await self._client.post(url, content=content, headers=headers)
                except (httpx.TimeoutException, httpx.NetworkError):
                    if attempt == _ATTEMPTS:
                        raise
                else:
                    if response.status_code < 500 and response.status_code != 429:
                        response.raise_for_status()
                        logger.info("Called webhook %s for run %s", url, run_id)
                        return
                    if attempt == _ATTEMPTS:
                        response.raise_for_status()
                await asyncio.sleep(0.5 * 2 ** (attempt - 1))
        except Exception as exc:
            logger.warning("Webhook %s for run %s failed: %s", url, run_id, exc)

    async def close(self, timeout: float = 5.0) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        for task in list(self._tasks):
            task.cancel()
        await self._client.aclose()


class WebhookHooks:
    """Run hooks that call the thread's hooks, then the run's webhook once it has ended."""

    def __init__(self, inner: RunHooks, sender: WebhookSender, run_json: Any) -> None:
        self.inner = inner
        self.sender = sender
        self._run_json = run_json
        self._started: dict[str, str] = {}

    async def run_started(self, record: RunRecord) -> None:
        if record.kwargs.get("webhook"):
            self._started[record.run_id] = datetime.now(UTC).isoformat()
        await self.inner.run_started(record)

    async def run_finished(self, outcome: RunOutcome) -> None:
        await self.inner.run_finished(outcome)
        record = outcome.record
        url = record.kwargs.get("webhook")
        started = self._started.pop(record.run_id, None)
        # A run cancelled before it started never reached a worker in langgraph-api either: no
        # call. A drained run (still active) resumes at the next start and calls from there.
        if not url or started is None or self.sender.policy.disabled or record.status.is_active:
            return
        try:
            self.sender.send(url, self.sender.payload(outcome, started, self._run_json(record)))
        except Exception:
            logger.warning("Could not queue the webhook of run %s", record.run_id, exc_info=True)
