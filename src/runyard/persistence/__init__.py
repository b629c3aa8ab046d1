"""SQL persistence: the engine, the runs table, and the migrations that create it."""
