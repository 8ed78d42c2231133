"""python -m actbench.cli: the same as the actbench command."""

from actbench.cli import entry

entry()
