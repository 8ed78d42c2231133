"""Write docs/result-files.md's result-column tables from actbench/results/columns.py (the one table).

python scripts/column_tables.py          # rewrite docs/result-files.md in place
python scripts/column_tables.py --check  # exit 1 when it differs (tests/test_cli_docs.py does the same)
"""

from __future__ import annotations

import sys

from doc_blocks import ROOT, main

from actbench.results.columns import column_table

DOC = ROOT / "docs" / "result-files.md"
KIND = "columns"  # <!-- columns: runs --> ... <!-- /columns -->

if __name__ == "__main__":
    sys.exit(main(DOC, KIND, column_table, sys.argv))  # type: ignore[arg-type]
