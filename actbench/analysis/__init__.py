"""Analysis of result files: summaries (stats), significance tests, compare and merge.
Reads results only; never imports Keras or training."""
