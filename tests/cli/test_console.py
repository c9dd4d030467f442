"""Colour only on a terminal and never under NO_COLOR; tables measure plain text."""

from __future__ import annotations

import io

import pytest

from modelmesh_healthd._console import Palette, table, wants_colour


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "environ", "colour"),
    [
        (_Terminal(), {}, True),
        (_Terminal(), {"NO_COLOR": "1"}, False),
        (_Terminal(), {"NO_COLOR": "anything"}, False),
        (_Terminal(), {"NO_COLOR": ""}, True),
        (io.StringIO(), {}, False),
    ],
    ids=["a terminal", "NO_COLOR=1", "any value", "empty NO_COLOR is unset", "not a terminal"],
)
def test_colour_is_wanted_only_on_a_terminal_without_no_color(
    stream: io.StringIO, environ: dict[str, str], colour: bool
) -> None:
    assert wants_colour(stream, environ) is colour


def test_painted_cells_keep_the_columns_of_the_plain_table() -> None:
    rows = [["a", "yes", "x"], ["bbb", "NO", "y"]]
    palette = Palette(True)
    painted = table(
        ["P", "HEALTHY", "D"], rows, lambda r, c, cell: palette.good(cell) if c == 1 else cell
    )
    plain = table(["P", "HEALTHY", "D"], rows)
    assert painted.replace("\x1b[32m", "").replace("\x1b[0m", "") == plain
