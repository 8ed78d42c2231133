"""The version, in a module of its own: every stage may import it without importing the
package root, which exposes the Python API (and so would close an import cycle)."""

__version__ = "0.1.0"
