"""actbench: compare activation functions in Keras CNNs.

The Python API (actbench/api.py, docs/python-api.md): actbench.run(config), actbench.load(dir),
actbench.compare(a, b). Importing actbench imports neither pandas nor Keras; they load on first call.
"""

import sys
import types

from ._version import __version__
from .api import Results, compare, load, run


class _Package(types.ModuleType):
    """`actbench.run` is the API function, though actbench/run/ is also a package (the run stage):
    importing a subpackage sets it as an attribute of its parent, which would replace the
    function the first time anything imports actbench.run.runner. The package stays reachable
    (sys.modules, `from actbench.run import plan`); only the attribute is kept for the function."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in __all__ and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


__all__ = ["Results", "__version__", "compare", "load", "run"]
sys.modules[__name__].__class__ = _Package
