"""CSV cells that a spreadsheet opens as text, never as a formula (OWASP: CSV injection).

Excel, LibreOffice and Google Sheets evaluate a cell that begins with ``=``, ``+``, ``-`` or
``@`` (and, through them, tab, carriage return and NUL) as a formula: an exported address
``=cmd|'/Ccalc'!A0@example.com`` (valid e-mail syntax) would run when the file is opened.
As OWASP's CSV injection guidance says, such a cell gets a leading single quote, which
spreadsheets show as text and hide. Phone numbers begin with ``+`` and get one too: opened in
a spreadsheet, ``+34600123456`` then stays that text instead of becoming the number
34600123456 (the ``+`` lost, or 3.46E+10).

A cell that already begins with a quote gets one more, so the change is reversible: a program
reading the file removes one leading ``'`` where the rest begins with one of
``= + - @ ' tab CR NUL`` (:func:`restored`), and has every value back as the NDJSON export
carries it.
"""

from __future__ import annotations

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
_QUOTED = (*TRIGGERS, "'")


def neutralised(cell: str | None) -> str | None:
    """The cell as written to a CSV file."""
    if cell and cell.startswith(_QUOTED):
        return "'" + cell
    return cell


def restored(cell: str) -> str:
    """The value a neutralised cell stands for (what a program reading the file does)."""
    if cell.startswith("'") and cell[1:].startswith(_QUOTED):
        return cell[1:]
    return cell
