"""The markdown report of one result dir (markdown) and its figures (plots, axes, overview),
drawn with matplotlib. Reads results only; never imports Keras or training."""
