"""actbench: compare activation functions in Keras CNNs.

The Python API (actbench/api.py, docs/python-api.md): actbench.run(config), actbench.load(dir),
actbench.compare(a, b). Importing actbench imports neither pandas nor Keras; they load on first call.
"""

import sys
import types

__version__ = "0.1.0"

from .api import Results, compare, load, run  # noqa: E402 - after __version__, which cli and runner import


class _Package(types.ModuleType):
    """`actbench.compare` is the API function, though actbench/compare.py is also a module: importing
    a submodule sets it as an attribute of its package, which would replace the function the first
    time anything imports actbench.compare. The module stays reachable (sys.modules, `from
    actbench.compare import ...`); only the attribute is kept for the function."""

    def __setattr__(self, name: str, value: object) -> None:
        if name == "compare" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = ["Results", "__version__", "compare", "load", "run"]
