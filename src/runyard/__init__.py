"""runyard: LangGraph graphs as durable runs behind the LangGraph Agent Server API."""

__version__ = "0.1.0"
