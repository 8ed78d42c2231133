"""Downloads: a missing dataset is fetched into the Keras cache from Keras' own origins (or a
mirror with the same file names), checked against the known checksums, and only then given
its final name, so a cut-off or wrong download never leaves a file that later passes as valid.

Why not `keras.utils.get_file`: it has no timeout (a dead network hangs for minutes), it
downloads in place and keeps a file that failed its hash, it prints its own progress bar, and
importing it imports TensorFlow (~10 s here). This module writes the same files to the same
paths with the same hashes, so `keras.datasets.X.load_data()` then reads them without network.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from actbench._version import __version__
from actbench.errors import DataError

from .formats import GZIP_MAGIC, read_maybe_gzip
from .locate import ENV_MIRROR, check_available, keras_cache_dir, locate, where_of
from .registry import NAMES, Checksum, DatasetSpec, spec_of

ENV_OFFLINE = "ACTBENCH_OFFLINE"
DEFAULT_TIMEOUT = 10.0  # seconds for the connection and for each read: fail fast without network
SCHEMES = ("http", "https", "file")

# progress(label, bytes done, total bytes or None, finished): display/render.py draws it
Progress = Callable[[str, int, "int | None", bool], None]


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class FetchPolicy:
    """Whether and from where missing datasets may be downloaded."""

    offline: bool = False
    mirror: str | None = None  # replaces each origin's base URL; file names stay the same
    timeout: float = DEFAULT_TIMEOUT
    progress: Progress | None = None

    @classmethod
    def resolve(
        cls,
        offline: bool | None = None,
        mirror: str | None = None,
        progress: Progress | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> FetchPolicy:
        """Explicit values win, else $ACTBENCH_OFFLINE and $ACTBENCH_DATA_MIRROR."""
        offline = _env_flag(ENV_OFFLINE) if offline is None else bool(offline)
        mirror = mirror or os.environ.get(ENV_MIRROR) or None
        if mirror and urllib.parse.urlsplit(mirror).scheme not in SCHEMES:
            raise DataError(
                f"Data mirror '{mirror}' is not a URL: expected http://, https:// or file:// "
                f"(from --data-mirror or ${ENV_MIRROR}), e.g. https://mirror.example.org/keras-datasets/"
            )
        return cls(offline, mirror, timeout, progress)

    def url_for(self, origin: str) -> str:
        if not self.mirror:
            return origin
        return self.mirror.rstrip("/") + "/" + origin.rsplit("/", 1)[1]

    def why_not(self) -> str:
        return f"not downloaded: offline (--offline or {ENV_OFFLINE}=1)"


def _digest(path: str, ck: Checksum, spec: DatasetSpec) -> str:
    if ck.of == "content":
        with open(path, "rb") as f:
            head = f.read(2)
        if head == GZIP_MAGIC:
            return hashlib.new(ck.algo, read_maybe_gzip(path, spec)).hexdigest()
    h = hashlib.new(ck.algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _valid(path: str, ck: Checksum, spec: DatasetSpec) -> bool:
    try:
        return os.path.isfile(path) and _digest(path, ck, spec) == ck.hexdigest
    except DataError:  # an unreadable .gz
        return False


def _reason(e: BaseException, timeout: float) -> str:
    cause = e.reason if isinstance(e, urllib.error.URLError) else e
    if isinstance(cause, TimeoutError):  # socket.timeout is TimeoutError
        return f"no answer within {timeout:g} s (timed out)"
    return str(cause) if isinstance(e, urllib.error.URLError) else f"{type(e).__name__}: {e}"


def _copy_url(url: str, target: str, policy: FetchPolicy, label: str) -> None:
    """Stream url into target (an open temp file path). Raises DataError naming the url."""
    request = urllib.request.Request(url, headers={"User-Agent": f"actbench/{__version__}"})
    done, total = 0, None
    try:
        with urllib.request.urlopen(request, timeout=policy.timeout) as resp, open(target, "wb") as out:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            while chunk := resp.read(1 << 16):
                out.write(chunk)
                done += len(chunk)
                if policy.progress:
                    policy.progress(label, done, total, False)
            out.flush()
            os.fsync(out.fileno())
    except urllib.error.HTTPError as e:
        raise DataError(f"download of {url} failed: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        raise DataError(f"download of {url} failed: {_reason(e, policy.timeout)}") from None
    finally:
        if policy.progress:
            policy.progress(label, done, total, True)
    if total is not None and done != total:
        raise DataError(f"download of {url} was cut off: {done} of {total} bytes")


def _fetch_file(spec: DatasetSpec, url: str, dest: str, ck: Checksum, policy: FetchPolicy) -> None:
    """Download to a temp name beside dest, verify, then rename: dest is either absent or valid."""
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(dest) + ".", suffix=".part", dir=os.path.dirname(dest))
    os.close(fd)
    try:
        _copy_url(url, tmp, policy, f"{spec.name}: {os.path.basename(dest)}")
        try:
            actual = _digest(tmp, ck, spec)
        except DataError:
            actual = "(not a readable gzip file)"
        if actual != ck.hexdigest:
            what = "decompressed content" if ck.of == "content" else "file"
            raise DataError(
                f"downloaded {url} does not match the known checksum; nothing was saved.\n"
                f"expected {ck.algo} of {what}: {ck.hexdigest} ({ck.source})\n"
                f"actual   {ck.algo} of {what}: {actual}\n"
                "The server (or mirror) sent a different or damaged file."
            )
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def fetch(name: str, policy: FetchPolicy | None = None) -> list[str]:
    """Download a dataset's files into the Keras cache (files already there and valid are kept).
    Returns the cached paths. Raises DataError when offline, unreachable or a checksum fails."""
    spec = spec_of(name)
    policy = policy or FetchPolicy.resolve()
    layout = spec.keras_cache
    if not spec.origins or layout is None:
        raise DataError(f"Dataset '{name}' has no download origin ({spec.loader or 'local files only'}).")
    if policy.offline:
        raise DataError(f"Dataset '{name}': {policy.why_not()}.")
    cache = keras_cache_dir()
    paths = []
    for i, (rel, origin) in enumerate(zip(layout.files, spec.origins)):
        dest = os.path.join(cache, rel)
        ck = spec.checksums[layout.official_name(i)]
        if not _valid(dest, ck, spec):
            _fetch_file(spec, policy.url_for(origin), dest, ck, policy)
        paths.append(dest)
    return paths


def unreachable(name: str, policy: FetchPolicy) -> str:
    """Why dataset `name` could not be downloaded now ("" when its first origin, or the mirror's
    copy of it, answers): what `doctor` says of a missing dataset. Downloads nothing."""
    spec = spec_of(name)
    if not spec.origins:
        return f"it has no download origin ({spec.loader or 'local files only'})"
    url = policy.url_for(spec.origins[0])
    if url.startswith("file://"):
        path = urllib.parse.urlsplit(url).path
        return "" if os.path.isfile(path) else f"{path} does not exist"
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": f"actbench/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=policy.timeout):
            return ""
    except urllib.error.HTTPError as e:
        return f"{url}: HTTP {e.code} {e.reason}"
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        return f"{url}: {_reason(e, policy.timeout)}"


def ensure_available(names: list[str], data_dir: str | None = None, policy: FetchPolicy | None = None) -> None:
    """Download what is missing (unless offline), then raise ONE DataError for whatever still is."""
    for n in names:
        spec_of(n)
    policy = policy or FetchPolicy.resolve()
    notes: dict[str, str] = {}
    for n in dict.fromkeys(names):
        if locate(n, data_dir).available or not NAMES[n].origins:
            continue
        if policy.offline:
            notes[n] = policy.why_not()
            continue
        try:
            fetch(n, policy)
        except DataError as e:
            notes[n] = str(e)
    check_available(names, data_dir, notes)


def prefetch(names: list[str], data_dir: str | None = None, policy: FetchPolicy | None = None) -> list[dict]:
    """`actbench datasets fetch`: download what is not on this machine yet; one row per dataset.
    Raises ONE DataError naming every dataset that could not be fetched."""
    for n in names:
        spec_of(n)
    policy = policy or FetchPolicy.resolve()
    rows, failures = [], []
    for n in dict.fromkeys(names):
        loc = locate(n, data_dir)
        if loc.available:
            rows.append({"name": n, "result": "already here", "source": loc.kind, "where": where_of(loc)})
            continue
        started = time.perf_counter()
        try:
            fetch(n, policy)
        except DataError as e:
            failures.append(f"- {n}: {e}")
            continue
        rows.append(
            {
                "name": n,
                "result": f"downloaded in {time.perf_counter() - started:.1f} s",
                "source": "keras-cache",
                "where": where_of(locate(n, data_dir)),
            }
        )
    if failures:
        fine = f"\n(in place: {', '.join(r['name'] for r in rows)})" if rows else ""
        raise DataError("Could not fetch:\n" + "\n".join(failures) + fine)
    return rows
