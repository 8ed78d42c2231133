"""Training: the model family, the engine that trains a group of runs, diagnostics, and one
backend adapter per Keras backend (backends/). The only stage that imports Keras at the top of a call path."""
