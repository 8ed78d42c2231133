"""Write docs/activations.md's table of built-in activations from the registry (actbench/activations/).

python scripts/activation_table.py          # rewrite docs/activations.md in place
python scripts/activation_table.py --check  # exit 1 when it differs (tests/test_docs.py does the same)

The rows are those `actbench activations` prints, plus what kernel_initializer "auto" gives.
"""

from __future__ import annotations

import sys

from doc_blocks import ROOT, main

from actbench.activations import registry

DOC = ROOT / "docs" / "activations.md"
KIND = "activations"  # <!-- activations: builtin --> ... <!-- /activations -->


def activation_table(_: str) -> str:
    lines = [
        "| name | f(x) | parameters | dead when | bounded | `auto` initializer | aliases |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in registry.describe():
        cells = [
            f"`{row['name']}`",
            row["formula"],
            row["parameters"],
            row["dead_rule"],
            row["bounded"],
            registry.get(row["name"]).initializer,
            row["aliases"],
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(DOC, KIND, activation_table, sys.argv))
