"""A deterministic chat model that calls tools, for graphs that must run without an API key.

``FakeToolChatModel`` decides its reply from the conversation, so a server can run it any number
of times (unlike langchain-core's list-driven fakes, which run out of scripted replies):

- the last message is a tool result: it answers with that result, streamed word by word;
- the last message is the user's and a ``get_weather`` tool is bound: it calls the tool with the
  city named in the message ("... in Paris?", default Paris);
- otherwise it echoes the user's message.

It streams through ``_stream``/``_astream``, so LangGraph's ``messages`` stream mode yields
token chunks, and ``bind_tools`` returns a copy that knows the tools' names.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

WEATHER_TOOL = "get_weather"
DEFAULT_CITY = "Paris"
_CITY = re.compile(r"\b(?:in|for|at)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)")


def city_in(text: str) -> str:
    """The capitalised place name after "in", "for" or "at" in ``text``, else ``DEFAULT_CITY``."""
    match = _CITY.search(text)
    return match.group(1) if match else DEFAULT_CITY


def _last_tool_call_args(messages: Sequence[BaseMessage]) -> dict[str, Any]:
    for message in reversed(messages):
        if isinstance(message, AIMessage) and message.tool_calls:
            return dict(message.tool_calls[0]["args"])
    return {}


class FakeToolChatModel(BaseChatModel):
    """A chat model whose reply is a pure function of the conversation and the bound tools."""

    tool_names: tuple[str, ...] = ()

    @property
    def _llm_type(self) -> str:
        return "runyard-fake-tool-chat"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """A copy of this model that may call ``tools`` (only their names matter)."""
        names = tuple(convert_to_openai_tool(t)["function"]["name"] for t in tools)
        return self.model_copy(update={"tool_names": names})

    def reply(self, messages: Sequence[BaseMessage]) -> AIMessage:
        """The message this model answers ``messages`` with."""
        last = messages[-1] if messages else HumanMessage("")
        if isinstance(last, ToolMessage):
            city = _last_tool_call_args(messages).get("city", DEFAULT_CITY)
            return AIMessage(f"The weather in {city}: {last.text}")
        if WEATHER_TOOL in self.tool_names and isinstance(last, HumanMessage):
            turn = sum(isinstance(m, AIMessage) for m in messages)
            call = {"name": WEATHER_TOOL, "args": {"city": city_in(last.text)}, "id": f"call_weather_{turn}"}
            return AIMessage("", tool_calls=[call])
        return AIMessage(f"You said: {last.text}")

    def _chunks(self, messages: Sequence[BaseMessage]) -> Iterator[ChatGenerationChunk]:
        message = self.reply(messages)
        for token in re.split(r"(\s+)", message.text):
            if token:
                yield ChatGenerationChunk(message=AIMessageChunk(content=token))
        for index, call in enumerate(message.tool_calls):
            args = json.dumps(call["args"])
            chunk = tool_call_chunk(name=call["name"], args=args, id=call["id"], index=index)
            yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[chunk]))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.reply(messages))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from self._chunks(messages)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages):
            yield chunk
