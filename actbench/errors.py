"""The one exception type for user mistakes: the CLI prints its message and exits 2."""


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
