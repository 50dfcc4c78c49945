"""Plain text of a .docx report: body paragraphs and table cells, in document order.

Word's automatic list numbering is not part of the paragraph text, so a report numbered that
way loses its "（一）" and "1." markers here; such reports should be drafted from a copy saved
as plain text (Word's "Save as .txt" writes the numbers out).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from docx.table import Table

MAX_DOCX_BYTES = 20 * 1024 * 1024
# A .docx is a zip: check what it unpacks to before parsing, so a zip bomb is refused cheaply.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024


class DocxUnreadable(Exception):
    """The file is not a .docx that can be read; the message says why."""


def docx_text(path: Path) -> str:
    try:
        import docx
        from docx.table import Table
    except ImportError:  # an optional dependency: say what to install, not a traceback
        raise DocxUnreadable("reading .docx needs python-docx (pip install python-docx)") from None
    try:
        if path.stat().st_size > MAX_DOCX_BYTES:
            raise DocxUnreadable(f"larger than {MAX_DOCX_BYTES // 1024 // 1024} MB; not a report")
        with zipfile.ZipFile(path) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_BYTES:
                raise DocxUnreadable("unpacks to more than 100 MB; not a report")
        document = docx.Document(str(path))
    except DocxUnreadable:
        raise
    except OSError as exc:
        raise DocxUnreadable(f"cannot read the file: {exc.strerror or exc}") from None
    except Exception as exc:  # python-docx raises several kinds for a damaged or foreign file
        raise DocxUnreadable(f"not a readable .docx file ({type(exc).__name__}: {exc})") from None
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines += _table_lines(block)
        else:
            lines.append(block.text)
    return "\n".join(lines)


def _table_lines(table: Table) -> list[str]:
    lines: list[str] = []
    seen: set[int] = set()
    for row in table.rows:
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans; read it once.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            lines += [p.text for p in cell.paragraphs]
    return lines
