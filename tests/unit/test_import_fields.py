"""Columns to fields and cell values, as the import reads them (pure)."""

from __future__ import annotations

import math

import pytest

from app.errors import ValidationFailed
from app.imports.fields import FIELDS, normalise, parse_map, resolve_columns, validate_rows


def test_columns_are_matched_by_name_case_insensitively_and_by_alias():
    found = resolve_columns("parcels", ["CODE", "Land_Use", "RJL", "legacy_zon", "other"], {})
    assert found == {"code": "CODE", "land_use": "Land_Use", "plot_ratio": "RJL", "legacy_zone": "legacy_zon"}


def test_map_overrides_matching_and_is_checked():
    assert resolve_columns("parcels", ["code", "地块编码"], {"code": "地块编码"})["code"] == "地块编码"
    with pytest.raises(ValidationFailed, match="no column 'x'"):
        resolve_columns("parcels", ["code"], {"code": "x"})
    with pytest.raises(ValidationFailed, match="not a field"):
        resolve_columns("parcels", ["code"], {"colour": "code"})
    with pytest.raises(ValidationFailed, match="field=column"):
        parse_map(["code"])
    assert parse_map(["code=DKBM", "plot_ratio = RJL"]) == {"code": "DKBM", "plot_ratio": "RJL"}


def test_cells_are_normalised_as_planners_write_them():
    specs = {s.name: s for s in FIELDS["parcels"] + FIELDS["zones"]}
    assert normalise(specs["legacy_zone"], 104.0) == "104"
    assert normalise(specs["land_use"], "M1") == "industrial"
    assert normalise(specs["land_use"], "研发") == "rnd"
    assert normalise(specs["advanced_manufacturing"], "是") is True
    assert normalise(specs["plot_ratio"], " ") is None
    assert normalise(specs["plot_ratio"], math.nan) is None
    with pytest.raises(ValueError, match="not a number"):
        normalise(specs["plot_ratio"], "high")


def test_rows_are_validated_by_the_api_schema():
    columns = {"c": ["A-1", "A 2", "A-3"], "u": ["industrial", "industrial", None], "r": [1.5, 2.0, -1]}
    values, reasons = validate_rows(
        "parcels", columns, {"code": "c", "land_use": "u", "plot_ratio": "r"}, 3, defaults={"land_use": "rnd"}
    )
    assert values[0] == {
        "code": "A-1",
        "land_use": "industrial",
        "plot_ratio": 1.5,
        "plot_ratio_reference_id": None,
        "legacy_zone": None,
        "status": "planned",
    }
    assert reasons[1].startswith("code:") and values[1] is None
    assert reasons[2].startswith("plot_ratio:")


def test_a_column_is_read_exactly_as_its_cells_one_by_one():
    import numpy as np

    from app.imports.fields import normalise_column

    cells = [" A-1 ", "", "  ", None, math.nan, 104.0, 104, 2.5, -1, 0, True, False, "是", "否", "M1", " c65 ",
             "研发", "1.5", "high", "3", "3.0", 1e300, math.inf, np.float64(1.25), np.int64(7), "industrial"]
    for spec in FIELDS["parcels"] + FIELDS["zones"]:
        column, errors = normalise_column(spec, cells)
        for i, cell in enumerate(cells):
            try:
                expected = normalise(spec, cell)
            except ValueError as exc:
                assert (column[i], errors[i]) == (None, str(exc)), (spec.name, cell)
            else:
                assert i not in errors and column[i] == expected and type(column[i]) is type(expected), (
                    spec.name, cell)


def test_rows_get_the_values_and_first_error_of_validating_each_row_on_its_own():
    import itertools

    from pydantic import ValidationError

    from app.imports.fields import SCHEMAS

    codes = ["P-1", "bad code", None, "P-2", "x" * 41, "P-3"]
    uses = ["industrial", "rnd", "office", None, "farm"]
    ratios = [1.5, None, -1.0, 2.5]
    zones = ["104", "198", "999", None]
    rows = list(itertools.product(codes, uses, ratios, zones))  # 480 rows, many repeated combinations
    columns = {"c": [r[0] for r in rows], "u": [r[1] for r in rows], "r": [r[2] for r in rows],
               "z": [r[3] for r in rows], "ref": [f"R-{i}" for i in range(len(rows))]}
    mapping = {"code": "c", "land_use": "u", "plot_ratio": "r", "legacy_zone": "z", "plot_ratio_reference_code": "ref"}
    values, reasons = validate_rows("parcels", columns, mapping, len(rows), defaults={"land_use": "rnd"})
    for i, (code, use, ratio, zone) in enumerate(rows):
        row = {k: v for k, v in {"code": code, "land_use": use, "plot_ratio": ratio, "legacy_zone": zone}.items()
               if v is not None}
        row.setdefault("land_use", "rnd")
        try:
            model = SCHEMAS["parcels"].model_validate(row)
        except ValidationError as exc:
            err = exc.errors()[0]
            assert values[i] is None and reasons[i] == f"{'.'.join(map(str, err['loc']))}: {err['msg']}", rows[i]
        else:
            assert reasons[i] is None and values[i] == {**model.__dict__, "plot_ratio_reference_code": f"R-{i}"}
