"""actbench CLI with the recommended engine changes monkeypatched in (prototype; not part of the repo):
steps_per_execution=32 on every compile, TF intra-op threads 1 / inter-op = cpu count."""
import os, sys
import actbench.backend as backend
_configure = backend.configure
def configure(name, deterministic):
    settings = _configure(name, deterministic)
    if name == "tensorflow":
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(os.cpu_count() or 1)
        import keras
        orig = keras.Model.compile
        def compile(self, *a, **kw):
            kw.setdefault("steps_per_execution", 32)
            return orig(self, *a, **kw)
        keras.Model.compile = compile
    return settings
backend.configure = configure
from actbench.cli import app
sys.exit(app())
