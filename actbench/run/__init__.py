"""Running an experiment: the run plan (grid, shards, resume) and the runner
(config -> plan -> data -> engine -> result files)."""
