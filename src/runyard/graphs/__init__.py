"""Loading a project's ``langgraph.json``: its graphs, their system assistants, and the code it names.

    load_config(path)          parse and check the file (nothing imported, nothing changed)
    GraphRegistry(config)      apply ``env`` and ``dependencies``, import the graphs, hand out a
                               graph per run (``get``/``open``), resolve assistant ids
    load_object/load_callable  import what ``http.app`` or ``store.index.embed`` names

Nothing here imports the API, run, stream or persistence layers.
"""

from .config import (
    CONFIG_FILENAME,
    GraphSpec,
    HttpConfig,
    IndexConfig,
    ProjectConfig,
    StoreConfig,
    StoreTTLConfig,
    load_config,
)
from .dotenv import parse_dotenv
from .environment import add_python_paths, apply_env, read_env
from .errors import ConfigError, GraphNotFoundError, GraphsError
from .loader import ImportSpec, import_file, load_callable, load_object, parse_import_spec
from .registry import NAMESPACE_GRAPH, CompiledGraph, GraphRegistry, LoadedGraph, assistant_id_for

__all__ = [
    "CONFIG_FILENAME",
    "NAMESPACE_GRAPH",
    "CompiledGraph",
    "ConfigError",
    "GraphNotFoundError",
    "GraphRegistry",
    "GraphSpec",
    "GraphsError",
    "HttpConfig",
    "ImportSpec",
    "IndexConfig",
    "LoadedGraph",
    "ProjectConfig",
    "StoreConfig",
    "StoreTTLConfig",
    "add_python_paths",
    "apply_env",
    "assistant_id_for",
    "import_file",
    "load_callable",
    "load_config",
    "load_object",
    "parse_dotenv",
    "parse_import_spec",
    "read_env",
]
