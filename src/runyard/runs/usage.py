"""Token usage of one run, summed from the chat models it called.

A LangChain callback handler sees every model call of the run, whatever the graph's shape, so
usage needs nothing from the graph's author. Each model call's ``usage_metadata`` is counted
once (by the callback's own run id), and per model name.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.outputs import ChatGeneration, LLMResult


class UsageTracker(AsyncCallbackHandler):
    """Accumulates token usage; ``completion()`` gives the run's totals."""

    run_inline = True

    def __init__(self) -> None:
        self.input_tokens = 0
        self.output_tokens = 0
        self.total_tokens = 0
        self.calls = 0
        self.by_model: dict[str, dict[str, int]] = {}
        self.last_ai_message: str | None = None

    async def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        self.calls += 1
        for generations in response.generations:
            for generation in generations:
                if not isinstance(generation, ChatGeneration):
                    continue
                message = generation.message
                usage = getattr(message, "usage_metadata", None) or {}
                model = str(message.response_metadata.get("model_name") or "unknown")
                tokens_in = int(usage.get("input_tokens", 0))
                tokens_out = int(usage.get("output_tokens", 0))
                tokens = int(usage.get("total_tokens", tokens_in + tokens_out))
                self.input_tokens += tokens_in
                self.output_tokens += tokens_out
                self.total_tokens += tokens
                bucket = self.by_model.setdefault(
                    model, {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
                )
                bucket["input_tokens"] += tokens_in
                bucket["output_tokens"] += tokens_out
                bucket["total_tokens"] += tokens
                if isinstance(message.content, str) and message.content:
                    self.last_ai_message = message.content[:2000]

    def completion(self) -> dict[str, Any]:
        return {
            "total_input_tokens": self.input_tokens,
            "total_output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "llm_call_count": self.calls,
            "token_usage_by_model": self.by_model,
            "last_ai_message": self.last_ai_message,
        }
