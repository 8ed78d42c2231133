"""The exception types for user mistakes: the CLI prints an ActbenchError's message and exits 2."""

import difflib


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
    lines = [x.strip() for x in str(e).splitlines() if x.strip() and not x.strip().startswith("[[")]
    text = f"{type(e).__name__}: {lines[-1]}" if lines else type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."
