"""CSV bodies of the reports (`?f=csv`): one header row, one line per item, UTF-8 with BOM for Excel."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from gis.io import BOM


def to_csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    """The rows' `columns` as CSV (dates ISO 8601, None empty, lists joined by spaces)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return (BOM + out.getvalue()).encode()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
