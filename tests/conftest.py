"""Session hooks for the pytest-xdist workers `make test` runs."""

import signal


def pytest_sessionfinish(session):
    # execnet sends a SIGINT to a worker still winding down 5 s after the run (TensorFlow and
    # JAX in one process can take that long). It lands in whatever runs then, often JAX's gc
    # callback, and prints a KeyboardInterrupt traceback into a log whose results are already in.
    if hasattr(session.config, "workerinput"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
