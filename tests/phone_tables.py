"""What a table shows on a phone: its rows stack, each cell under the label its ``data-label``
gives (``static/shopfloor/app.css``); a cell without one is a bare number nobody can name."""

from __future__ import annotations

from html.parser import HTMLParser


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # inside a <table class="table"> (nested tables count too)
        self.in_body = False
        self.cell_index = -1
        self.current: dict | None = None
        self.unlabelled: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and "table" in (a.get("class") or "").split():
            self.depth += 1
        elif self.depth and tag == "tbody":
            self.in_body = True
        elif self.depth and self.in_body and tag == "tr":
            self.cell_index = -1
        elif self.depth and self.in_body and tag == "td":
            self.cell_index += 1
            # The row's first cell is its title (left-aligned, no label); a colspan cell is a message.
            wanted = self.cell_index > 0 and "colspan" not in a
            self.current = {"text": "", "wanted": wanted and "data-label" not in a}

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.current is not None:
            if self.current["wanted"]:
                self.unlabelled.append(" ".join(self.current["text"].split()) or "(empty)")
            self.current = None
        elif tag == "tbody":
            self.in_body = False
        elif tag == "table" and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.current is not None:
            self.current["text"] += data


def unlabelled_cells(html: str) -> list[str]:
    """The text of every body cell of a ``table.table`` (past a row's first) that has no ``data-label``."""
    parser = _Cells()
    parser.feed(html)
    return parser.unlabelled
