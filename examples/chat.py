"""``chat``: a tool-calling chat agent on a fake model; no API key, no network.

Ask "What's the weather in Lisbon?": the model streams a ``get_weather`` call, the tool node
runs it, and the model streams an answer built from the tool's result.
"""

from __future__ import annotations

from typing import Any

from fakechat import FakeToolChatModel  # a sibling module: "dependencies": ["."] puts it on sys.path
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

_FORECASTS = {
    "paris": "18 °C, light rain",
    "lisbon": "24 °C, sunny",
    "london": "15 °C, overcast",
    "tokyo": "21 °C, clear",
}


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return _FORECASTS.get(city.strip().lower(), "20 °C, partly cloudy")


TOOLS = [get_weather]
model = FakeToolChatModel().bind_tools(TOOLS)


async def agent(state: MessagesState) -> dict[str, Any]:
    """Ask the model for the next message: a tool call or the answer."""
    return {"messages": [await model.ainvoke(state["messages"])]}


builder = StateGraph(MessagesState)
builder.add_node("agent", agent)
builder.add_node("tools", ToolNode(TOOLS))
builder.add_edge(START, "agent")
builder.add_conditional_edges("agent", tools_condition, ["tools", END])
builder.add_edge("tools", "agent")
graph = builder.compile()
