"""A department's file of figures (CSV or Excel .xlsx) read into batch entries. Synchronous: the service
runs `read_file` in a worker thread.

The file is opened with the import's hardened readers (gis.io, gis.guard: the suffix decides the driver,
the content must start as it says, a sheet's zip is checked before a byte is inflated, every cell is read
as text). Two shapes:
- long: columns uscc or contract_code, figure, value — one value a row;
- wide, as departments export: uscc or contract_code, then one column per figure (its code, Chinese or
  English name); an empty cell is a figure not delivered. Columns that describe the row (name, unit,
  note …) are left out; any other column is refused, so a misspelt figure is never silently dropped.
A workbook is read from its first sheet.
A CSV may be UTF-8 (with or without a byte-order mark) or GB18030 (GBK), as Excel on a Chinese Windows
saves it.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

from app.errors import ValidationFailed
from app.measurements.rules import Entry, figure_code
from gis import io
from gis.errors import VectorFileError
from gis.guard import ZipLimits

FORMATS = {".csv": "csv", ".xlsx": "xlsx"}
_USCC = {"uscc", "统一社会信用代码", "社会信用代码", "信用代码", "credit_code"}
_CONTRACT = {"contract_code", "contract", "合同编号", "合同编码", "出让合同编号"}
_FIGURE = {"figure", "指标", "指标代码"}
_VALUE = {"value", "数值", "值", "指标值"}
# Columns that describe a row and feed nothing (a wide export's enterprise name, unit, note).
_DESCRIPTIVE = {"name", "enterprise", "enterprise_name", "企业名称", "名称", "单位名称", "unit", "单位", "note",
                "备注", "year", "年份", "年度", "source", "来源", "district", "区", "序号", "no", "id"}
_CHUNK = 1 << 20


def file_format(name: str) -> str:
    """csv or xlsx, from the file's name; VALIDATION_ERROR for anything else."""
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise ValidationFailed(
            f"send the figures as a .csv or .xlsx file (or as JSON rows), not {suffix or 'a file without a suffix'}",
            field="file")
    return FORMATS[suffix]


def read_file(path: Path, limits: ZipLimits = ZipLimits()) -> list[Entry]:
    """The entries of a file; whole-file problems (unreadable, hostile, no subject column, unknown
    columns) raise VALIDATION_ERROR naming the file, never echoing its content."""
    kind = file_format(path.name)
    try:
        encoding = _encoding(path) if kind == "csv" else None
        # A workbook's first sheet holds the figures (a second one may hold notes).
        layers = io.list_layers(path, limits) if kind == "xlsx" else []
        layer = layers[0] if layers else None
        table = io.read_table(path, layer, encoding=encoding, limits=limits)
    except VectorFileError as exc:
        raise ValidationFailed(str(exc), field="file") from None
    columns = {c: _header(c) for c in table.columns}
    cells: dict[str, list[Any]] = {c: table.frame[c].tolist() for c in table.columns}
    uscc = _find(columns, _USCC)
    contract = _find(columns, _CONTRACT)
    if uscc is None and contract is None:
        raise ValidationFailed(
            f"{path.name} has no uscc or contract_code column; its columns: {', '.join(columns)[:300]}",
            field="file")
    n = len(table)
    usccs = cells[uscc] if uscc else [None] * n
    codes = cells[contract] if contract else [None] * n
    figure, value = _find(columns, _FIGURE), _find(columns, _VALUE)
    if figure is not None and value is not None:
        return [Entry(i + 1, _cell(usccs[i]), _cell(codes[i]), _cell(cells[figure][i]), _cell(cells[value][i]))
                for i in range(n)]
    figures = {c: code for c, h in columns.items() if (code := figure_code(h)) is not None}
    taken = {uscc, contract, *figures}
    unknown = [c for c, h in columns.items() if c not in taken and h not in _DESCRIPTIVE]
    if unknown:
        raise ValidationFailed(
            f"{path.name}: unknown columns {', '.join(unknown)[:300]}; a column is a figure "
            "(tax_paid, output_value, value_added, rnd_spending, jobs, fixed_investment, energy_use, emissions) "
            "or uscc / contract_code, or the long form's figure and value",
            field="file")
    if not figures:
        raise ValidationFailed(f"{path.name} has no figure column (nor figure and value columns)", field="file")
    entries: list[Entry] = []
    for i in range(n):
        for column, code in figures.items():
            cell = _cell(cells[column][i])
            if cell is None:
                continue  # not delivered
            entries.append(Entry(i + 1, _cell(usccs[i]), _cell(codes[i]), code, cell))
    return entries


def _encoding(path: Path) -> str | None:
    """None for UTF-8 (a byte-order mark or not), GB18030 for text that is not UTF-8 but is GB18030."""
    utf8 = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as f:
        try:
            while chunk := f.read(_CHUNK):
                utf8.decode(chunk)
            utf8.decode(b"", final=True)
            return None
        except UnicodeDecodeError:
            pass
        f.seek(0)
        gb = codecs.getincrementaldecoder("gb18030")()
        try:
            while chunk := f.read(_CHUNK):
                gb.decode(chunk)
            gb.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ValidationFailed(f"the text in {path.name} is neither UTF-8 nor GB18030", field="file") from None
    return "GB18030"


def _header(name: str) -> str:
    return name.removeprefix("\ufeff").strip().casefold()


def _find(columns: dict[str, str], names: set[str]) -> str | None:
    return next((c for c, h in columns.items() if h in names), None)


def _cell(value: Any) -> Any:
    """A cell as text (None when empty): every cell is read as text, so a number keeps its digits."""
    if value is None or (isinstance(value, float) and value != value):  # pandas' NaN for a missing cell
        return None
    text = str(value).strip()
    return text or None

