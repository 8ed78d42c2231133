"""The output lock: one writer per output dir, across processes and hosts."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import tempfile
import time
from pathlib import Path

from ..errors import ResultsError
from .io import writing
from .schema import LOCK_FILE, RESULT_FILES


class OutputLock:
    """An exclusive lock on an output dir: a file holding pid and host.

    A second process refuses with a message naming the holder. A lock left by a dead
    process on this host is detected (the pid no longer exists) and taken over.
    """

    def __init__(self, directory: Path):
        self.path = Path(directory) / LOCK_FILE
        self.held = False

    def acquire(self) -> None:
        # Serialise lock-taking on this host, so two processes that both find a stale
        # lock cannot both take it over (the kernel drops this guard when a process dies).
        with (
            writing(self.path, "taking the output dir's lock"),
            open(self.path.parent / f"{LOCK_FILE}.guard", "a") as guard,
        ):
            fcntl.flock(guard, fcntl.LOCK_EX)
            self._acquire()

    def _acquire(self) -> None:
        host = socket.gethostname()
        text = json.dumps({"pid": os.getpid(), "host": host, "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        for _ in range(2):
            try:
                self._create(text)
            except FileExistsError:
                holder = self._read_holder()
                if holder and holder.get("host") == host and not _pid_alive(holder.get("pid", -1)):
                    self.path.unlink(missing_ok=True)  # stale: its process is gone
                    continue
                who = (
                    f"pid {holder.get('pid')} on host {holder.get('host')}, since {holder.get('since')}"
                    if holder
                    else "an unknown process"
                )
                raise ResultsError(
                    f"{self.path.parent}: another actbench process is writing here ({who}).\n"
                    f"Wait for it to finish, or choose another output dir. If that process is gone "
                    f"(e.g. it ran on another machine), delete {self.path}."
                ) from None
            self.held = True
            self._remove_stale_temp_files()
            return
        raise ResultsError(f"{self.path}: could not take the lock.")

    def _remove_stale_temp_files(self) -> None:
        # Temp files of a writer killed mid-write; with the lock held nobody else writes here.
        for name in RESULT_FILES:
            for leftover in self.path.parent.glob(f".{name}.*.tmp"):
                leftover.unlink(missing_ok=True)

    def _create(self, text: str) -> None:
        """Create the lock file with its content in one step: write a temp file, then
        hard-link it to the lock name (atomic; FileExistsError when the lock is held).
        A kill at any moment leaves either no lock or a complete one naming its pid,
        never an empty lock that no later run could tell from a live one."""
        fd, tmp = tempfile.mkstemp(prefix=f"{LOCK_FILE}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links: exclusive create instead
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                with os.fdopen(fd, "w") as f:
                    f.write(text)
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def _read_holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def release(self) -> None:
        if self.held:
            try:
                self.path.unlink(missing_ok=True)
            except OSError:
                pass  # e.g. remounted read-only: the next run finds a dead pid's lock and takes it over
            self.held = False

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True
