"""Write the README's result-column tables from actbench/results/columns.py (the one table).

python scripts/column_tables.py          # rewrite README.md in place
python scripts/column_tables.py --check  # exit 1 when README.md differs (tests/test_cli_docs.py does the same)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from actbench.results.columns import column_table

README = Path(__file__).resolve().parents[1] / "README.md"
# <!-- columns: runs --> ... <!-- /columns -->; what stands between is generated
BLOCK = re.compile(r"(<!-- columns: (\w+) -->\n)(.*?)(<!-- /columns -->)", re.S)


def with_tables(text: str) -> str:
    return BLOCK.sub(lambda m: f"{m.group(1)}{column_table(m.group(2))}\n{m.group(4)}", text)  # type: ignore[arg-type]


def main() -> int:
    text = README.read_text(encoding="utf-8")
    new = with_tables(text)
    if "--check" in sys.argv[1:]:
        return 0 if new == text else 1
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
