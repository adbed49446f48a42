"""The pure checks of a delivered batch (app/measurements/rules.py): values read exactly, subjects, figures
of the source, duplicates, years."""

from decimal import Decimal

import pytest

from app.measurements.rules import Entry, check, figure_code, foreign_figures, parse_value, year_problem
from tests.contract_builders import uscc

A, B = uscc(1), uscc(2)
REGISTERED = {A: 11, B: 12}
CONTRACTS = {"HT-1": 21}


@pytest.mark.parametrize(("sent", "stored"), [
    ("1234.5678", Decimal("1234.5678")),
    (Decimal("0.1"), Decimal("0.1000")),
    (0.1, Decimal("0.1000")),  # the float's shortest text, not 0.1000000000000000055511…
    (42, Decimal("42.0000")),
    ("1,234,567.5", Decimal("1234567.5000")),
    (" 7 ", Decimal("7.0000")),
    ("0.00005", Decimal("0.0001")),  # to numeric(20, 4) as PostgreSQL rounds
    ("9999999999999999.9999", Decimal("9999999999999999.9999")),
    ("0", Decimal("0.0000")),
])
def test_values_are_read_exactly(sent, stored):
    assert parse_value(sent) == (stored, None)


@pytest.mark.parametrize(("sent", "words"), [
    (None, "no value"), ("", "no value"), (True, "must be a number"), ("1,2", "not a number"),
    ("abc", "not a number"), ("NaN", "not a finite"), ("Infinity", "not a finite"), (float("inf"), "not a finite"),
    ("-0.5", "never negative"), ("1e16", "too large"), ("9999999999999999.99995", "too large"), ([1], "a number"),
])
def test_what_is_no_value(sent, words):
    value, problem = parse_value(sent)
    assert value is None and problem is not None and words in problem


def test_figures_are_named_by_code_or_chinese_or_english_name():
    assert figure_code("tax_paid") == figure_code("实缴税收") == figure_code(" Tax Paid ") == "tax_paid"
    assert figure_code("tax") is None and figure_code(3) is None


def test_a_batch_refuses_each_bad_row_with_its_reason_and_keeps_the_good_ones():
    entries = [
        Entry(1, A, None, "tax_paid", "10"),
        Entry(2, A.lower(), None, "energy_use", "1"),
        Entry(3, None, " HT-1 ", "tax_paid", "2"),
        Entry(4, uscc(3), None, "tax_paid", "2"),
        Entry(5, B, "HT-1", "tax_paid", "2"),
        Entry(6, None, "HT-2", "tax_paid", "2"),
    ]
    checked = check("tax", entries, REGISTERED, CONTRACTS)
    assert checked.rows == 6
    assert [(a.row, a.enterprise_id, a.contract_id, a.value) for a in checked.accepted] == [
        (1, 11, None, Decimal("10.0000")), (3, None, 21, Decimal("2.0000"))]
    reasons = {r.row: r.reason for r in checked.refused}
    assert "delivered by energy, not tax" in reasons[2]
    assert "no enterprise with USCC" in reasons[4]
    assert "not both" in reasons[5]
    assert "no contract 'HT-2'" in reasons[6]


def test_the_same_subject_and_figure_twice_refuses_both():
    checked = check("tax", [Entry(1, A, None, "tax_paid", "1"), Entry(2, f" {A.lower()} ", None, "实缴税收", "2"),
                            Entry(3, B, None, "tax_paid", "3")], REGISTERED, CONTRACTS)
    assert [a.row for a in checked.accepted] == [3]
    assert [r.row for r in checked.refused] == [1, 2]
    assert "rows 1, 2" in checked.refused[0].reason


def test_figures_of_another_department_are_found_for_the_role_check():
    entries = [Entry(1, A, None, "jobs", "1"), Entry(2, A, None, "tax_paid", "1"), Entry(3, A, None, "排放", "1")]
    assert foreign_figures("tax", entries) == [("jobs", "statistics")]


def test_years_run_from_1990_to_this_year():
    assert year_problem(1990, 2026) is None and year_problem(2026, 2026) is None
    assert "between 1990 and 2026" in (year_problem(1989, 2026) or "")
    assert year_problem(2027, 2026) is not None
