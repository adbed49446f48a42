"""What a delivered batch of figures may hold (SPEC §4 data_provider, §5 batches). Pure: no I/O.

A batch is one department's (`source`) figures of one `year`. Each entry names one subject (an enterprise
by its USCC, or a contract by its code: exactly one of them), one figure the source delivers
(app/measurements/figures.py) and its value: a finite decimal ≥ 0 that numeric(20, 4) holds, read exactly
(text or an int, never a binary float's approximation), stored to 4 decimal places as PostgreSQL rounds.
The same (subject, figure) twice in one batch is ambiguous: every one of them is refused.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from app.enterprises import uscc as uscc_rules
from app.measurements.figures import FIGURES, SOURCES, figures_of

FIRST_YEAR = 1990
SCALE = Decimal("0.0001")  # numeric(20, 4)
LIMIT = Decimal(10) ** 16  # numeric(20, 4): 16 digits before the point
REPORT_CAP = 1_000  # refused rows carried in a refusal's answer (the batch's report keeps them all)
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")  # 1,234,567.5 as a spreadsheet prints it
# A figure may be named by its code or by its Chinese or English name (as departments head their columns).
_FIGURE_NAMES = {name.casefold(): f.code for f in FIGURES.values() for name in (f.code, f.zh, f.en)}


@dataclass(frozen=True, slots=True)
class Entry:
    """One value as sent: the file's row (or the JSON row's 1-based index), its subject, figure and value."""

    row: int
    uscc: str | None
    contract_code: str | None
    figure: str | None
    value: Any


@dataclass(frozen=True, slots=True)
class Accepted:
    """A checked value: its subject resolved to an id (one of the two), figure code and exact value."""

    row: int
    enterprise_id: int | None
    contract_id: int | None
    figure: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class RowRefused:
    """A refused value: row, subject as sent, figure as sent, reason."""

    row: int
    subject: str | None
    figure: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the batch's report, a refusal's answer)."""
        return {"row": self.row, "subject": self.subject, "figure": self.figure, "reason": self.reason}


@dataclass
class Checked:
    """A batch checked: the values to store and the refused rows, in row order."""

    rows: int
    accepted: list[Accepted] = field(default_factory=list)
    refused: list[RowRefused] = field(default_factory=list)


def year_problem(year: int, this_year: int) -> str | None:
    """Why `year` cannot be a batch's year (figures are of a year that has begun), or None."""
    if not FIRST_YEAR <= year <= this_year:
        return f"year must be between {FIRST_YEAR} and {this_year}, not {year}"
    return None


def source_problem(source: str) -> str | None:
    """Why `source` is no department, or None."""
    return None if source in SOURCES else f"source must be one of {', '.join(SOURCES)}, not {source!r}"


def figure_code(name: Any) -> str | None:
    """The figure code a cell or column names (its code, Chinese or English name), or None."""
    if not isinstance(name, str):
        return None
    return _FIGURE_NAMES.get(name.strip().casefold())


def parse_value(value: Any) -> tuple[Decimal | None, str | None]:
    """(the exact value to 4 places, None) or (None, why it is no value)."""
    if value is None or isinstance(value, bool):
        return None, "no value" if value is None else "the value must be a number"
    if isinstance(value, Decimal | int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))  # the shortest text that is this float: what the caller wrote
    elif isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "")
        if not text:
            return None, "no value"
        if _GROUPED.match(text):
            text = text.replace(",", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None, f"{_shown(value)} is not a number"
    else:
        return None, "the value must be a number"
    if not number.is_finite():
        return None, f"{_shown(str(value))} is not a finite number"
    if number < 0:
        return None, f"a figure is never negative ({number})"
    too_large = f"{number} is too large (at most 16 digits before the decimal point)"
    if number >= LIMIT:
        return None, too_large
    stored = number.quantize(SCALE, rounding=ROUND_HALF_UP)
    return (None, too_large) if stored >= LIMIT else (stored, None)


def subject_of(entry: Entry) -> str | None:
    """The subject as the report names it: the USCC or the contract code as sent."""
    return entry.uscc if entry.uscc else entry.contract_code


def normalised_uscc(entry: Entry) -> str | None:
    """The entry's USCC as looked up (spaces out, upper case), None when it names none."""
    return uscc_rules.normalise(entry.uscc) if entry.uscc else None


def normalised_code(entry: Entry) -> str | None:
    """The entry's contract code as looked up (surrounding spaces out), None when it names none."""
    return entry.contract_code.strip() if entry.contract_code and entry.contract_code.strip() else None


def foreign_figures(source: str, entries: Iterable[Entry]) -> list[tuple[str, str]]:
    """The (figure, its department) of entries whose figure another department delivers."""
    own = set(figures_of(source))
    found: dict[str, str] = {}
    for entry in entries:
        code = figure_code(entry.figure)
        if code is not None and code not in own:
            found.setdefault(code, FIGURES[code].source)
    return sorted(found.items())


def check(source: str, entries: Sequence[Entry], enterprises: Mapping[str, int],
          contracts: Mapping[str, int]) -> Checked:
    """Every entry checked against the registry as looked up (`enterprises`: USCC → id of the registered
    enterprises among those named; `contracts`: code → id of the current contracts among those named)."""
    own = set(figures_of(source))
    out = Checked(rows=len(entries))
    candidates: list[tuple[Entry, Accepted]] = []
    usccs: dict[str, str | None] = {}  # each USCC checked once (a wide file names it once per figure)
    for entry in entries:
        reason, accepted = _check_one(source, own, entry, enterprises, contracts, usccs)
        if reason is not None:
            out.refused.append(RowRefused(entry.row, subject_of(entry), _figure_shown(entry), reason))
        else:
            assert accepted is not None
            candidates.append((entry, accepted))
    seen: dict[tuple[str, int, str], list[int]] = defaultdict(list)
    for _, a in candidates:
        seen[_key(a)].append(a.row)
    for entry, a in candidates:
        rows = seen[_key(a)]
        if len(rows) > 1:
            listed = ", ".join(str(r) for r in rows[:10]) + (" …" if len(rows) > 10 else "")
            out.refused.append(RowRefused(entry.row, subject_of(entry), a.figure,
                                          f"{a.figure} of this subject is delivered more than once in the "
                                          f"batch (rows {listed}); send it once"))
        else:
            out.accepted.append(a)
    out.refused.sort(key=lambda r: r.row)
    return out


def _check_one(source: str, own: set[str], entry: Entry, enterprises: Mapping[str, int],
               contracts: Mapping[str, int], usccs: dict[str, str | None]) -> tuple[str | None, Accepted | None]:
    code = normalised_code(entry)
    uscc = normalised_uscc(entry)
    if uscc and code:
        return "name the enterprise (uscc) or the contract (contract_code), not both", None
    if not uscc and not code:
        return "no subject: give the enterprise's uscc or the contract_code", None
    enterprise_id = contract_id = None
    if uscc:
        if uscc not in usccs:
            usccs[uscc] = uscc_rules.problem(uscc)
        problem = usccs[uscc]
        if problem is not None:
            return f"USCC {_shown(entry.uscc or '')}: {problem}", None
        enterprise_id = enterprises.get(uscc)
        if enterprise_id is None:
            return f"no enterprise with USCC {uscc} is registered", None
    else:
        assert code is not None
        contract_id = contracts.get(code)
        if contract_id is None:
            return f"no contract {_shown(code)} exists", None
    figure = figure_code(entry.figure)
    if figure is None:
        if entry.figure is None or (isinstance(entry.figure, str) and not entry.figure.strip()):
            return "no figure", None
        return f"unknown figure {_shown(str(entry.figure))}; one of {', '.join(FIGURES)}", None
    if figure not in own:
        return f"{figure} is delivered by {FIGURES[figure].source}, not {source}", None
    value, problem = parse_value(entry.value)
    if problem is not None:
        return problem, None
    assert value is not None
    return None, Accepted(entry.row, enterprise_id, contract_id, figure, value)


def _key(a: Accepted) -> tuple[str, int, str]:
    return ("e", a.enterprise_id, a.figure) if a.enterprise_id is not None else ("c", a.contract_id or 0, a.figure)


def _figure_shown(entry: Entry) -> str | None:
    code = figure_code(entry.figure)
    if code is not None:
        return code
    return None if entry.figure is None else str(entry.figure)[:60]


def _shown(value: str) -> str:
    """A user's value quoted in a reason: at most 40 characters."""
    return repr(value if len(value) <= 40 else value[:37] + "...")
