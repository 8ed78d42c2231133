"""Downloads (actbench.datasets.fetch) against a local HTTP server started by each test.

The server serves official-format files written by official_formats.py. Their checksums are
not the official ones, so each test registers the fake release's checksums (and, where the
test is about origins, points the origins at the server). Only the download -> load test
imports Keras (its real loader reads the cache); the others stay light.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from typer.testing import CliRunner

import actbench.datasets as ds
from actbench.errors import DataError

sys.path.insert(0, os.path.dirname(__file__))
import official_formats as of  # noqa: E402
from test_datasets import KERAS_CFG, no_system_dirs  # noqa: E402


class Server:
    """Serves `files` (url path -> bytes). mode: 'ok', 'hang' (never answers), 'cut' (half, then close)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.mode = "ok"
        self.requests: list[str] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                server.requests.append(self.path)
                if server.mode == "hang":
                    server.release.wait(30)
                    return
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if server.mode == "cut" else body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Empty Keras home, no data_dir, no env switches, no system folders."""
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    if KERAS_CFG in sys.modules:
        monkeypatch.setattr(sys.modules[KERAS_CFG], "_KERAS_DIR", str(home))
    for var in (ds.ENV_DATA_DIR, ds.ENV_OFFLINE, ds.ENV_MIRROR):
        monkeypatch.delenv(var, raising=False)
    no_system_dirs(monkeypatch)
    ds.clear_cache()
    yield home / "datasets"
    ds.clear_cache()


def fake_fashion(tmp_path, monkeypatch, server: Server, prefix: str = "/origin/", register: bool = True) -> dict:
    """Serve a tiny Fashion-MNIST release under `prefix`; make the registry trust it and fetch it from there."""
    paths = of.write_idx_gz(tmp_path / "release", n_train=40, n_test=10)
    content = {}
    for p in paths:
        name = os.path.basename(p)
        with open(p, "rb") as f:
            blob = f.read()
        server.files[prefix + name] = blob
        content[name] = hashlib.sha256(gzip.decompress(blob)).hexdigest()
    spec = ds.NAMES["fashion_mnist"]
    checksums = {n: ds.Checksum("sha256", h, "content", "test release") for n, h in content.items()}
    if register:
        monkeypatch.setitem(
            ds.NAMES,
            "fashion_mnist",
            dataclasses.replace(
                spec, checksums=checksums, origins=tuple(server.url + prefix + n for n in ds.IDX_FILES)
            ),
        )
    return content


def policy(**kw) -> ds.FetchPolicy:
    return ds.FetchPolicy(**{"timeout": 2.0, **kw})


def cached_files(cache) -> list[str]:
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


# ----------------------------------------------------------------------------- download -> cache -> load
def test_download_then_cache_then_load(cache, tmp_path, monkeypatch, server):
    fake_fashion(tmp_path, monkeypatch, server)
    seen = []
    ds.ensure_available(["fashion_mnist"], None, policy(progress=lambda *a: seen.append(a)))
    assert cached_files(cache) == [f"fashion-mnist/{f}" for f in sorted(ds.IDX_FILES)]
    assert sorted(server.requests) == sorted(f"/origin/{f}" for f in ds.IDX_FILES)
    last = {label: (done, total, finished) for label, done, total, finished in seen}  # progress per file
    assert len(last) == 4 and all(finished and done == total for done, total, finished in last.values())
    loc = ds.locate("fashion_mnist")
    assert loc.kind == "keras-cache" and loc.available
    raw = ds.load("fashion_mnist")  # verified by content, then read by the real Keras loader
    assert raw.verified and "keras-cache" in raw.source
    x_tr, y_tr = of.make_images(40, (28, 28), 10, 0)
    np.testing.assert_array_equal(raw.x_train, x_tr)
    np.testing.assert_array_equal(raw.y_train, y_tr)
    # a second call finds the cache and does not download again
    server.requests.clear()
    ds.ensure_available(["fashion_mnist"], None, policy())
    assert server.requests == []


def test_prefetch_rows_and_already_here(cache, tmp_path, monkeypatch, server):
    fake_fashion(tmp_path, monkeypatch, server)
    rows = ds.prefetch(["fashion_mnist", "mnist_sample", "fashion_mnist"], None, policy())
    assert [(r["name"], r["result"].split(" ")[0]) for r in rows] == [
        ("fashion_mnist", "downloaded"),
        ("mnist_sample", "already"),
    ]
    again = ds.prefetch(["fashion_mnist"], None, policy())
    assert again[0]["result"] == "already here" and again[0]["source"] == "keras-cache"


# ----------------------------------------------------------------------------- bad downloads never poison the cache
def test_checksum_mismatch_is_clear_and_leaves_nothing(cache, tmp_path, monkeypatch, server):
    content = fake_fashion(tmp_path, monkeypatch, server)
    bad = "/origin/t10k-images-idx3-ubyte.gz"
    server.files[bad] = gzip.compress(of.idx_bytes(np.zeros((10, 28, 28), np.uint8)))
    with pytest.raises(DataError) as e:
        ds.fetch("fashion_mnist", policy())
    msg = str(e.value)
    assert server.url + bad in msg and "does not match the known checksum" in msg and "nothing was saved" in msg
    assert content["t10k-images-idx3-ubyte.gz"] in msg
    assert "fashion-mnist/t10k-images-idx3-ubyte.gz" not in cached_files(cache)
    assert not [f for f in cached_files(cache) if f.endswith(".part")]
    # through ensure_available: the one "not found" message carries the reason
    with pytest.raises(DataError, match="Dataset files not found for: fashion_mnist") as e:
        ds.ensure_available(["fashion_mnist"], None, policy())
    assert "does not match the known checksum" in str(e.value)


def test_cut_off_download_leaves_nothing(cache, tmp_path, monkeypatch, server):
    fake_fashion(tmp_path, monkeypatch, server)
    server.mode = "cut"
    with pytest.raises(DataError, match="cut off|IncompleteRead|failed"):
        ds.fetch("fashion_mnist", policy())
    assert cached_files(cache) == [] or not [f for f in cached_files(cache) if "idx" in f]


def test_a_bad_file_already_in_the_cache_is_replaced(cache, tmp_path, monkeypatch, server):
    fake_fashion(tmp_path, monkeypatch, server)
    target = cache / "fashion-mnist" / "train-images-idx3-ubyte.gz"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"garbage")
    ds.fetch("fashion_mnist", policy())
    assert target.read_bytes() == server.files["/origin/train-images-idx3-ubyte.gz"]


# ----------------------------------------------------------------------------- no network, mirror, offline
def test_server_that_never_answers_fails_within_the_timeout(cache, tmp_path, monkeypatch, server):
    fake_fashion(tmp_path, monkeypatch, server)
    server.mode = "hang"
    started = time.perf_counter()
    with pytest.raises(DataError) as e:
        ds.ensure_available(["fashion_mnist"], None, policy(timeout=1.0))
    assert time.perf_counter() - started < 5
    assert "Dataset files not found for: fashion_mnist" in str(e.value) and "timed out" in str(e.value)
    assert cached_files(cache) == []


def test_mirror_replaces_the_base_url(cache, tmp_path, monkeypatch, server):
    fake_fashion(tmp_path, monkeypatch, server)  # origins point at /origin/ ...
    for name in ds.IDX_FILES:  # ... the mirror holds the same files under /mirror/
        server.files["/mirror/" + name] = server.files.pop("/origin/" + name)
    monkeypatch.setenv(ds.ENV_MIRROR, server.url + "/mirror/")
    ds.ensure_available(["fashion_mnist"], None, dataclasses.replace(ds.FetchPolicy.resolve(), timeout=2.0))
    assert sorted(server.requests) == sorted("/mirror/" + f for f in ds.IDX_FILES)
    assert (
        ds.FetchPolicy.resolve(mirror="https://m.example/x").url_for(ds.NAMES["mnist"].origins[0])
        == "https://m.example/x/mnist.npz"
    )


def test_file_mirror_for_air_gapped_machines(cache, tmp_path, monkeypatch, server):
    fake_fashion(tmp_path, monkeypatch, server)
    shared = tmp_path / "shared"  # e.g. a folder on a network file system
    shared.mkdir()
    for name in ds.IDX_FILES:
        (shared / name).write_bytes(server.files["/origin/" + name])
    ds.fetch("fashion_mnist", policy(mirror=shared.as_uri()))
    assert server.requests == [] and len(cached_files(cache)) == 4


def test_mirror_must_be_a_url(cache, monkeypatch):
    with pytest.raises(DataError, match="is not a URL"):
        ds.FetchPolicy.resolve(mirror="mirror.example.org/keras")
    monkeypatch.setenv(ds.ENV_MIRROR, "/some/dir")
    with pytest.raises(DataError, match="ACTBENCH_DATA_MIRROR"):
        ds.FetchPolicy.resolve()


@pytest.mark.parametrize("how", ["env", "argument"])
def test_offline_never_downloads(cache, tmp_path, monkeypatch, server, how):
    fake_fashion(tmp_path, monkeypatch, server)
    if how == "env":
        monkeypatch.setenv(ds.ENV_OFFLINE, "1")
    pol = ds.FetchPolicy.resolve(offline=True if how == "argument" else None)
    assert pol.offline
    with pytest.raises(DataError) as e:
        ds.ensure_available(["fashion_mnist"], None, pol)
    assert "offline" in str(e.value) and server.requests == [] and cached_files(cache) == []
    with pytest.raises(DataError, match="offline"):
        ds.fetch("fashion_mnist", pol)
    assert ds.FetchPolicy.resolve(offline=False).offline is False  # the flag beats the environment


# ----------------------------------------------------------------------------- the commands
def test_run_offline_fails_before_writing(cache, tmp_path, monkeypatch, server):
    from actbench.cli import app

    fake_fashion(tmp_path, monkeypatch, server)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: x\ndatasets: [fashion_mnist]\nactivations: [relu]\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(cfg), "--offline", "--output", str(out)])
    assert result.exit_code == 2 and "offline" in result.output and "Traceback" not in result.output
    assert not out.exists() and server.requests == []


def test_datasets_fetch_command_with_config_and_mirror(cache, tmp_path, monkeypatch, server):
    from actbench.cli import app

    fake_fashion(tmp_path, monkeypatch, server)
    for name in ds.IDX_FILES:  # only the mirror has them
        server.files["/m/" + name] = server.files.pop("/origin/" + name)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: x\ndatasets: [fashion_mnist, mnist_sample]\nactivations: [relu]\n")
    result = CliRunner().invoke(app, ["datasets", "fetch", "--config", str(cfg), "--data-mirror", server.url + "/m"])
    assert result.exit_code == 0, result.output
    assert sorted(server.requests) == sorted("/m/" + f for f in ds.IDX_FILES)
    assert "downloaded" in result.output and "already here" in result.output
    listing = CliRunner().invoke(app, ["datasets"])
    assert listing.exit_code == 0 and "keras-cache" in listing.output
    bad = CliRunner().invoke(app, ["datasets", "fetch", "mnst"])
    assert bad.exit_code == 2 and "Did you mean 'mnist'" in bad.output


def test_registry_origins_and_hashes_are_keras_own():
    """The origins and sha256 sums actbench downloads with are the ones in keras.datasets (read as text)."""
    import importlib.util

    keras_dir = os.path.join(os.path.dirname(importlib.util.find_spec("keras").origin), "src", "datasets")
    for name, spec in ds.NAMES.items():
        if not spec.keras_loader:
            continue
        with open(os.path.join(keras_dir, spec.keras_loader.module + ".py")) as f:
            source = f.read()
        for origin in spec.origins:
            assert origin in source or origin.rsplit("/", 1)[0] + "/" in source, (name, origin)
            assert origin.rsplit("/", 1)[1] in source, (name, origin)
        for official, ck in spec.checksums.items():
            if ck.of == "file":
                assert ck.hexdigest in source, (name, official)
