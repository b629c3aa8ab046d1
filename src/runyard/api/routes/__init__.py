"""Route groups of the Agent Server API, one module per resource."""
