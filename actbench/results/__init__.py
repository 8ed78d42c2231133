"""The output folder's one owner: run identity, schema, atomic writes, checked reading, lock.

    keys       RunKey and the key names (pandas-free)
    columns    the one table of result columns (pandas-free); the column lists derive from it
    schema     file names, columns, canonical row order, the at_chance rule
    io         atomic writes; reading with checks and column types normalised once
    lock       OutputLock: one writer per output dir
    manifest   which report files actbench wrote: the only ones it replaces or removes
    resultdir  ResultDir: the folder as a whole, used by both `run` and `merge`

No Keras import anywhere here, so compare/merge/report start fast. The names below are
loaded on first use, so `actbench.results.keys` can be imported without pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .columns import (
        COLUMNS,
        Column,
        column_table,
    )
    from .io import (
        ResultSet,
        atomic_write_text,
        bools_as_text,
        read_csv_checked,
        read_epochs,
        read_metadata,
        read_result_set,
        read_runs,
        with_at_chance,
        write_csv,
        write_json,
        writing,
    )
    from .keys import (
        GROUP_KEYS,
        RUN_KEYS,
        TUNED_MODEL,
        RunKey,
        describe_key,
        key_columns,
        run_key,
    )
    from .lock import (
        OutputLock,
    )
    from .manifest import (
        MANIFEST_FILE,
        install_report,
        read_manifest,
        remove_report_files,
    )
    from .resultdir import (
        REPORT_DIR,
        ResultDir,
        describe_removed,
        epoch_rows,
        run_row,
        unfinished_epochs,
    )
    from .schema import (
        AT_CHANCE_MARGIN,
        EPOCH_COLUMNS,
        EPOCHS_FILE,
        FIXED_SUMMARY_COLUMNS,
        LOCK_FILE,
        METADATA_FILE,
        RESULT_FILES,
        RUN_COLUMNS,
        RUNS_FILE,
        SUMMARY_COLUMNS,
        SUMMARY_FILE,
        canonical_epochs,
        canonical_order,
        canonical_runs,
        flag_column,
        is_at_chance,
        order_columns,
    )

_WHERE = {
    "COLUMNS": "columns",
    "Column": "columns",
    "column_table": "columns",
    "GROUP_KEYS": "keys",
    "RUN_KEYS": "keys",
    "TUNED_MODEL": "keys",
    "RunKey": "keys",
    "describe_key": "keys",
    "key_columns": "keys",
    "run_key": "keys",
    "AT_CHANCE_MARGIN": "schema",
    "EPOCH_COLUMNS": "schema",
    "EPOCHS_FILE": "schema",
    "FIXED_SUMMARY_COLUMNS": "schema",
    "LOCK_FILE": "schema",
    "METADATA_FILE": "schema",
    "RESULT_FILES": "schema",
    "RUN_COLUMNS": "schema",
    "RUNS_FILE": "schema",
    "SUMMARY_COLUMNS": "schema",
    "SUMMARY_FILE": "schema",
    "canonical_epochs": "schema",
    "canonical_order": "schema",
    "canonical_runs": "schema",
    "flag_column": "schema",
    "is_at_chance": "schema",
    "order_columns": "schema",
    "ResultSet": "io",
    "atomic_write_text": "io",
    "bools_as_text": "io",
    "read_csv_checked": "io",
    "read_epochs": "io",
    "read_metadata": "io",
    "read_result_set": "io",
    "read_runs": "io",
    "with_at_chance": "io",
    "write_csv": "io",
    "write_json": "io",
    "writing": "io",
    "OutputLock": "lock",
    "MANIFEST_FILE": "manifest",
    "install_report": "manifest",
    "read_manifest": "manifest",
    "remove_report_files": "manifest",
    "REPORT_DIR": "resultdir",
    "describe_removed": "resultdir",
    "ResultDir": "resultdir",
    "epoch_rows": "resultdir",
    "run_row": "resultdir",
    "unfinished_epochs": "resultdir",
}

__all__ = [
    "COLUMNS",
    "Column",
    "column_table",
    "AT_CHANCE_MARGIN",
    "EPOCHS_FILE",
    "EPOCH_COLUMNS",
    "FIXED_SUMMARY_COLUMNS",
    "GROUP_KEYS",
    "LOCK_FILE",
    "MANIFEST_FILE",
    "METADATA_FILE",
    "OutputLock",
    "REPORT_DIR",
    "RESULT_FILES",
    "RUNS_FILE",
    "RUN_COLUMNS",
    "RUN_KEYS",
    "ResultDir",
    "ResultSet",
    "RunKey",
    "SUMMARY_COLUMNS",
    "SUMMARY_FILE",
    "TUNED_MODEL",
    "atomic_write_text",
    "bools_as_text",
    "canonical_epochs",
    "canonical_order",
    "canonical_runs",
    "describe_key",
    "describe_removed",
    "epoch_rows",
    "flag_column",
    "install_report",
    "is_at_chance",
    "key_columns",
    "order_columns",
    "read_csv_checked",
    "read_epochs",
    "read_manifest",
    "read_metadata",
    "read_result_set",
    "read_runs",
    "remove_report_files",
    "run_key",
    "run_row",
    "unfinished_epochs",
    "with_at_chance",
    "write_csv",
    "write_json",
    "writing",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value
