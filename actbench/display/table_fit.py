"""Tables that fit the console's width: columns chosen by priority, never squeezed or cut.

Given a table wider than the console, rich squeezes columns, down to nothing (`┃┃┃`), and
ends cells with an ellipsis (`94…`): the numbers actbench exists to print. Here a table is
described column by column, each with a priority, and `fit` lays it out for a width:

1. When every column fits at its natural width (no cell or header wrapped), one table,
   the layout wide terminals always had.
2. Otherwise columns whose every cell is the same (dataset, model in `compare`) may move
   into the title, headers wrap at spaces, and text columns (`wrap=True`) wrap at spaces
   down to their longest word. A number is one word, so it is never split.
3. What still does not fit moves to a second table (and a third...), the most important
   columns first; the key columns (which row it is) are repeated in each.

Widths are fixed here and handed to rich as such, so rich never has to shrink anything.
No pandas, no Keras: plain strings in, rich Tables out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text

# rich's default table (box with edges, one space of padding each side): n columns cost
# 3 n + 1 cells beyond their content.
_PER_COLUMN = 3
_EDGE = 1


@dataclass
class Column:
    header: str
    cells: list[str]  # rich markup allowed
    justify: str = "left"
    key: bool = False  # says which row it is: in every table
    priority: int = 1  # among the others: lower is shown first when space is short
    wrap: bool = False  # text that may wrap at spaces (never a column of numbers)
    hoist: bool = False  # may move into the title when every cell is the same

    def natural(self) -> int:
        return max([_width(self.header), *map(_width, self.cells)])

    def minimum(self) -> int:
        """The narrowest it can be with nothing cut: the header wraps at spaces; cells too if wrap."""
        cells = map(_longest_word, self.cells) if self.wrap else map(_width, self.cells)
        return max([_longest_word(self.header), *cells])


@dataclass
class Layout:
    tables: list[list[tuple[Column, int]]]  # each table's columns with their widths, in the caller's order
    hoisted: list[tuple[str, str]] = field(default_factory=list)  # (header, the value every row had)
    natural: bool = True  # step 1: today's layout, rich sizes it

    @property
    def split(self) -> bool:
        return len(self.tables) > 1


def columns(spec: list[tuple[str, str, int, str]], rows: list[list[str]]) -> list[Column]:
    """Columns from (header, justify, priority, flags) and each row's cells in that order.
    Priority 0 marks a key; flags may name 'wrap' and 'hoist'."""
    return [
        Column(header, [r[i] for r in rows], justify, priority == 0, priority, "wrap" in flags, "hoist" in flags)
        for i, (header, justify, priority, flags) in enumerate(spec)
    ]


def _plain(markup: str) -> Text:
    return Text.from_markup(markup)


def _width(markup: str) -> int:
    return max((_plain(line).cell_len for line in markup.split("\n")), default=0)


def _longest_word(markup: str) -> int:
    return max((Text(w).cell_len for w in _plain(markup).plain.split()), default=0)


def table_width(widths: list[int]) -> int:
    return sum(widths) + _PER_COLUMN * len(widths) + _EDGE


def fit(columns: list[Column], width: int) -> Layout:
    """Lay the columns out for `width` (see the module docstring)."""
    if table_width([c.natural() for c in columns]) <= width:
        return Layout([[(c, c.natural()) for c in columns]])
    hoisted = [(c.header, c.cells[0]) for c in columns if c.hoist and c.cells and len(set(c.cells)) == 1]
    kept = [c for c in columns if not (c.hoist and (c.header, c.cells[0] if c.cells else None) in hoisted)]
    keys = [c for c in kept if c.key]
    rest = sorted((c for c in kept if not c.key), key=lambda c: c.priority)  # stable: ties keep their order
    tables: list[list[Column]] = []
    while rest or not tables:
        chosen = _take_while_fits(keys, rest, width)
        rest = [c for c in rest if c not in chosen]
        tables.append([c for c in kept if c in keys or c in chosen])  # the caller's column order
    return Layout([_widen(t, width) for t in tables], hoisted, natural=False)


def _take_while_fits(keys: list[Column], rest: list[Column], width: int) -> list[Column]:
    """The longest run of `rest` (in priority order) that fits beside the keys; at least one column,
    so that every column is shown somewhere even when it is wider than the console (it then folds)."""
    used = [c.minimum() for c in keys]
    chosen: list[Column] = []
    for c in rest:
        if chosen and table_width([*used, c.minimum()]) > width:
            break
        used.append(c.minimum())
        chosen.append(c)
    return chosen


def _widen(columns: list[Column], width: int) -> list[tuple[Column, int]]:
    """Minimum widths, then the room left given back in priority order (keys first): first so
    that no cell wraps, then so that no header does. Fewer wrapped lines where it matters most."""
    widths = {id(c): c.minimum() for c in columns}
    room = width - table_width(list(widths.values()))
    order = sorted(columns, key=lambda c: (not c.key, c.priority))
    for target in (lambda c: max(map(_width, c.cells), default=0), Column.natural):
        for c in order:
            extra = max(0, min(room, target(c) - widths[id(c)]))
            widths[id(c)] += extra
            room -= extra
    return [(c, widths[id(c)]) for c in columns]


def build(layout: Layout, title: str, rows: int) -> list[Table]:
    """The rich Tables of a layout. The first carries `title` and any values moved into it; the
    others '<title> (continued)', so a reader knows they go together."""
    first = title + ("\n" + "  ".join(f"{h}: {v}" for h, v in layout.hoisted) if layout.hoisted else "")
    out = []
    for i, table_columns in enumerate(layout.tables):
        table = Table(title=first if i == 0 else f"{title} (continued)", title_justify="left")
        for c, w in table_columns:
            if layout.natural:
                table.add_column(c.header, justify=c.justify, no_wrap=True)  # type: ignore[arg-type]
            else:  # a fixed width: rich shrinks nothing; fold is a safety net, never an ellipsis
                table.add_column(c.header, justify=c.justify, width=w, overflow="fold")  # type: ignore[arg-type]
        for r in range(rows):
            table.add_row(*[c.cells[r] for c, _ in table_columns])
        out.append(table)
    return out
