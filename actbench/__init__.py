"""actbench: compare activation functions in Keras CNNs."""

__version__ = "0.1.0"
