"""The HTTP layer: the LangGraph Agent Server API on FastAPI. The only part that knows HTTP."""
