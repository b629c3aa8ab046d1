"""The webhook URL policy on its own (langgraph-api's ``webhooks`` options), and a malformed
``webhooks`` section stopping ``runyard serve`` at start with a message naming the key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runyard import cli
from runyard.api.webhooks import WebhookConfigError, WebhookPolicy, WebhookRefused


async def _refusal(policy: WebhookPolicy, url: str) -> str:
    with pytest.raises(WebhookRefused) as refused:
        await policy.validate(url)
    return str(refused.value)


async def test_the_default_policy_refuses_loopback_and_internal_targets() -> None:
    """langgraph-api's defaults: loopback refused (disable_loopback defaults to true), private
    ranges allowed, link-local/metadata/k8s always refused."""
    policy = WebhookPolicy()
    assert "disable_loopback" in await _refusal(policy, "http://127.0.0.1:8000/hook")
    assert "disable_loopback" in await _refusal(policy, "http://localhost/hook")
    assert "disable_loopback" in await _refusal(policy, "http://[::1]/hook")
    assert "metadata" in await _refusal(policy, "http://169.254.169.254/")
    assert "blocked" in await _refusal(policy, "http://169.254.1.1/")
    assert "Kubernetes" in await _refusal(policy, "https://api.default.svc.cluster.local/")
    assert "scheme" in await _refusal(policy, "file:///etc/passwd")
    await policy.validate("http://10.1.2.3/hook")  # private: allowed unless disable_private_ips
    await policy.validate("http://192.168.0.10:8080/hook")


async def test_policy_options() -> None:
    """Each option of ``webhooks.url`` as langgraph-api reads it."""
    loopback = WebhookPolicy.from_config({"url": {"disable_loopback": False}})
    await loopback.validate("http://127.0.0.1:9/x")
    await loopback.validate("http://localhost:9/x")
    private = WebhookPolicy.from_config({"url": {"disable_private_ips": True}})
    assert "private" in await _refusal(private, "http://10.0.0.1/x")
    https = WebhookPolicy.from_config({"url": {"require_https": True}})
    assert "https" in await _refusal(https, "http://10.0.0.1/x")
    ports = WebhookPolicy.from_config({"url": {"allowed_ports": [443, 8443]}})
    assert "port 80 not allowed" in await _refusal(ports, "http://10.0.0.1/x")
    await ports.validate("https://10.0.0.1/x")
    domains = WebhookPolicy.from_config({"url": {"allowed_domains": ["hooks.example.com", "*.corp.example"]}})
    await domains.validate("https://hooks.example.com/x")  # allowed hosts skip DNS, as in langgraph-api
    await domains.validate("https://a.b.corp.example/x")
    assert "not allowed" in await _refusal(domains, "https://corp.example/x")
    assert "not allowed" in await _refusal(domains, "https://example.com/x")
    short = WebhookPolicy.from_config({"url": {"max_url_length": 20}})
    assert "too long" in await _refusal(short, "http://10.0.0.1/a-long-path")


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ([], "webhooks"),
        ({"url": []}, "webhooks.url"),
        ({"url": {"allowed_domains": "example.com"}}, "allowed_domains"),
        ({"url": {"allowed_domains": ["ex*.com"]}}, "wildcard"),
        ({"url": {"allowed_ports": ["80"]}}, "allowed_ports"),
        ({"url": {"disable_loopback": "no"}}, "disable_loopback"),
        ({"url": {"max_url_length": 0}}, "max_url_length"),
        ({"headers": {"X": 1}}, "headers"),
        ({"allowed_fields": ["run_id", "secret"]}, "allowed_fields"),
    ],
)
def test_a_malformed_section_is_named(raw: Any, named: str) -> None:
    with pytest.raises(WebhookConfigError) as refused:
        WebhookPolicy.from_config(raw)
    assert named in str(refused.value)


def test_a_malformed_webhooks_section_stops_the_server_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``runyard serve`` exits 2 before listening, naming the key."""
    config = tmp_path / "langgraph.json"
    examples = Path(__file__).resolve().parents[2] / "examples"
    config.write_text(
        json.dumps(
            {
                "graphs": {"fast": f"{examples / 'bench.py'}:fast"},
                "webhooks": {"url": {"allowed_ports": "443"}},
            }
        )
    )
    code = cli.main(["serve", "--config", str(config), "--port", "1", "--data-dir", str(tmp_path)])
    assert code == 2
    assert "webhooks.url.allowed_ports" in capsys.readouterr().err
