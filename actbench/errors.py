"""The exception types the CLI shows without a traceback: user mistakes (exit 2) and problems of
the machine (exit 3), and how a run's own error is described in one line."""

import difflib
import errno
import re


class ActbenchError(Exception):
    """A problem the user can fix (bad config, missing data, bad result files).

    The message must say what was wrong, where (file, line, field) and what is
    allowed; the CLI shows it without a traceback.
    """

    exit_code = 2


class ConfigError(ActbenchError):
    pass


class DataError(ActbenchError):
    pass


class ResultsError(ActbenchError):
    pass


class ActivationSpecError(ValueError):
    """A config's activation entry is wrong: a ValueError, so pydantic validators can raise it and
    the config loader reports it with file, line and field."""


def did_you_mean(name: str, choices: list[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when none is close."""
    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


def last_line(e: BaseException) -> str:
    """An exception as 'Type: its last meaningful line', short enough for one line. TensorFlow's
    runtime errors end with '[[{{node ...}}]] [Op:...]' lines after the message: skipped."""
    return _one_line(type(e).__name__, str(e))


def _one_line(name: str, message: str) -> str:
    message = re.sub(r"\x1b\[[0-9;]*m", "", message)  # Keras' bold markers
    lines = [x.strip() for x in message.splitlines() if x.strip() and not x.strip().startswith("[[")]
    text = f"{name}: {lines[-1]}" if lines else name
    return text if len(text) <= 200 else text[:197] + "..."


class MachineError(ActbenchError):
    """A problem of the machine, not of the config: a full disk, no permission, a read-only file
    system, a path component that is a file, no memory. The run stops; what finished is kept."""

    exit_code = 3


# errno -> (what it is, what to do), for the errors a result write meets in practice.
_OS_ERRORS = {
    errno.ENOSPC: ("no space left on the device", "free some space or choose another output dir (--output)"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or choose another output dir (--output)"),
    errno.EACCES: ("permission denied", "fix the permissions or choose another output dir (--output)"),
    errno.EPERM: ("operation not permitted (permission denied)", "fix the permissions or choose another dir"),
    errno.EROFS: ("read-only file system", "remount it read-write or choose another output dir (--output)"),
    errno.ENOTDIR: ("not a directory: a component of the path is a file", "move the file or choose another dir"),
    errno.EISDIR: ("is a directory", "remove the directory or choose another path"),
    errno.EEXIST: ("a file is in the way", "move it or choose another dir"),
}


def machine_error(e: OSError | MemoryError, doing: str, path: object = None) -> MachineError:
    """The MachineError that says what `e` is, where, while doing what, and what to do."""
    if isinstance(e, MemoryError):
        text = (
            f"out of memory while {doing}. Free memory, or make the run smaller "
            "(training.batch_size, train_limit, the model's width)"
        )
        return MachineError(f"{text}, then run the command again.")
    where = path if path is not None else getattr(e, "filename", None)
    what, remedy = _OS_ERRORS.get(e.errno or 0, (e.strerror or str(e) or type(e).__name__, "fix it"))
    text = f"{what} ({doing}). {remedy[0].upper()}{remedy[1:]}"
    text = text if where is None else f"{where}: {text}"
    return MachineError(f"{text}, then run the command again.")


def is_machine_error(e: BaseException) -> bool:
    """Memory or the file system, not the run's own code: the run is stopped, not recorded as failed.
    An accelerator's out-of-memory error (TensorFlow's ResourceExhaustedError, XLA's
    RESOURCE_EXHAUSTED) counts as memory."""
    e = original_error(e)
    if isinstance(e, (MemoryError, OSError)):
        return True
    return type(e).__name__ == "ResourceExhaustedError" or "RESOURCE_EXHAUSTED" in str(e)[:200]


def as_machine_error(e: BaseException, doing: str) -> MachineError:
    e = original_error(e)
    return machine_error(e if isinstance(e, (OSError, MemoryError)) else MemoryError(), doing)


def original_error(e: BaseException) -> BaseException:
    """The exception the user's code raised, under Keras' wrapper: a layer call that raises is
    re-raised as the same type with the call's arguments in its message, `from None`, so the
    original is only its __context__."""
    seen = 0
    while getattr(e, "_keras_call_info_injected", False) and e.__context__ is not None and seen < 20:
        e, seen = e.__context__, seen + 1
    return e


def describe_error(e: BaseException) -> str:
    """'Type: message' of the original exception (one line, at most 200 characters)."""
    original = original_error(e)
    if getattr(original, "_keras_call_info_injected", False):
        # No context to walk back to: the message sits between the wrapper's bold markers.
        inner = str(original).partition("\x1b[1m")[2].partition("\x1b[0m")[0]
        if inner.strip():
            return _one_line(type(original).__name__, inner)
    return last_line(original)
