"""Display: the terminal (render, the only module that prints), how numbers and verdicts
are written (numbers), and a comparison written out as markdown/csv/json (compare_format)."""
