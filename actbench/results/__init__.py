"""The output folder's one owner: schema, run identity, atomic writes, checked reading, lock.

    schema     file names, columns, RunKey, canonical row order, the at_chance rule
    io         atomic writes; reading with checks and column types normalised once
    lock       OutputLock: one writer per output dir
    manifest   which report files actbench wrote: the only ones it replaces or removes
    resultdir  ResultDir: the folder as a whole, used by both `run` and `merge`

No Keras import anywhere here, so compare/merge/report start fast.
"""

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
)
from .lock import OutputLock
from .manifest import MANIFEST_FILE, install_report, read_manifest, remove_report_files
from .resultdir import REPORT_DIR, ResultDir, describe_removed, epoch_rows, run_row, unfinished_epochs
from .schema import (
    AT_CHANCE_MARGIN,
    EPOCH_COLUMNS,
    EPOCHS_FILE,
    FIXED_SUMMARY_COLUMNS,
    GROUP_KEYS,
    LOCK_FILE,
    METADATA_FILE,
    RESULT_FILES,
    RUN_COLUMNS,
    RUN_KEYS,
    RUNS_FILE,
    SUMMARY_COLUMNS,
    SUMMARY_FILE,
    TUNED_MODEL,
    RunKey,
    canonical_epochs,
    canonical_order,
    canonical_runs,
    describe_key,
    flag_column,
    is_at_chance,
    key_columns,
    order_columns,
    run_key,
)

# The name older code used for run_key.
run_id = run_key

__all__ = [
    "FIXED_SUMMARY_COLUMNS",
    "SUMMARY_COLUMNS",
    "TUNED_MODEL",
    "AT_CHANCE_MARGIN",
    "EPOCH_COLUMNS",
    "EPOCHS_FILE",
    "GROUP_KEYS",
    "LOCK_FILE",
    "MANIFEST_FILE",
    "METADATA_FILE",
    "OutputLock",
    "REPORT_DIR",
    "RESULT_FILES",
    "RUN_COLUMNS",
    "RUN_KEYS",
    "RUNS_FILE",
    "ResultDir",
    "ResultSet",
    "RunKey",
    "SUMMARY_FILE",
    "atomic_write_text",
    "bools_as_text",
    "canonical_epochs",
    "canonical_order",
    "canonical_runs",
    "describe_key",
    "describe_removed",
    "flag_column",
    "epoch_rows",
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
    "run_id",
    "run_key",
    "run_row",
    "unfinished_epochs",
    "with_at_chance",
    "write_csv",
    "write_json",
]
