"""The WFS registry's `plain` properties (written without escaping) are held to the tables' CHECK
constraints: each names a column that a constraint keeps to fixed words or digits."""

from __future__ import annotations

import re

from sqlalchemy import CheckConstraint

from app.wfs.registry import PLAIN_COLUMNS, TYPES
from models import District, Parcel, Zone

TABLES = {"parcel": Parcel.__table__, "zone": Zone.__table__, "district": District.__table__}


def _checks(table) -> list[str]:
    return [str(c.sqltext) for c in table.constraints if isinstance(c, CheckConstraint)]


def test_every_plain_column_is_kept_to_plain_words_by_a_check_constraint():
    for table, names in PLAIN_COLUMNS.items():
        for name in names:
            rules = [r for r in _checks(TABLES[table]) if re.search(rf"\b{name}\b", r)]
            assert rules, f"{table}.{name} has no CHECK constraint"
            words = re.findall(r"'([^']*)'", " ".join(rules))
            assert words and all(re.fullmatch(r"[a-z0-9_]+|\^\[0-9\]\{6\}\$", w) for w in words), (table, name, words)


def test_only_those_columns_are_written_unescaped():
    plain = {(t.name, p.name) for t in TYPES for p in t.props if p.plain}
    assert plain == {("parcels", n) for n in PLAIN_COLUMNS["parcel"]} | {("zones", "kind"), ("districts", "code")}
