from datetime import date

import pytest

from app.calendar import add_months, add_years
from app.contracts.rules import terms
from app.errors import ValidationFailed
from app.evaluations.schedule import Due, Existing, expires_on, plan, replan
from app.policy import Policy

POLICY = Policy()


def test_default_contract_gets_commissioning_periodic_and_expiry_evaluations():
    t = terms(POLICY, date(2010, 3, 15))
    assert (t.term_years, t.evaluation_interval_years, t.commissioning_years) == (20, 5, 3)
    assert expires_on(t) == date(2030, 3, 15)
    assert plan(t) == [
        Due("commissioning", 1, date(2013, 3, 15)),
        Due("periodic", 1, date(2018, 3, 15)),
        Due("periodic", 2, date(2023, 3, 15)),
        Due("periodic", 3, date(2028, 3, 15)),
        Due("expiry", 1, date(2029, 3, 15)),
    ]


def test_periodic_evaluations_stop_before_the_expiry_evaluation():
    # Term 21: S+C+15 = 2028 < expiry evaluation 2030; with term 19 S+C+15 = 2028 is not before 2028.
    assert [d.stage for d in plan(terms(POLICY, date(2010, 1, 1), term_years=19))] == [
        "commissioning", "periodic", "periodic", "expiry"]


def test_interval_of_three_years():
    dues = plan(terms(POLICY, date(2020, 6, 1), term_years=10, interval=3))
    assert [(d.stage, d.due_on) for d in dues] == [
        ("commissioning", date(2023, 6, 1)), ("periodic", date(2026, 6, 1)), ("expiry", date(2029, 6, 1))]


def test_a_term_shorter_than_commissioning_plus_a_year_gets_one_commissioning_evaluation():
    # T = 2 < C + 1 = 4: commissioning (S+3) would fall after the term; it takes the expiry evaluation's
    # date S+T−12 months instead, and is the contract's one evaluation.
    assert plan(terms(POLICY, date(2020, 1, 1), term_years=2)) == [Due("commissioning", 1, date(2021, 1, 1))]


def test_a_term_of_exactly_commissioning_plus_one_year_keeps_both_evaluations_apart():
    # T = C + 1 = 4: commissioning S+3 equals the expiry evaluation S+4−12 months: one evaluation.
    assert plan(terms(POLICY, date(2020, 1, 1), term_years=4)) == [Due("commissioning", 1, date(2023, 1, 1))]
    # T = 5: commissioning S+3 before expiry S+4: both.
    assert plan(terms(POLICY, date(2020, 1, 1), term_years=5)) == [
        Due("commissioning", 1, date(2023, 1, 1)), Due("expiry", 1, date(2024, 1, 1))]


@pytest.mark.parametrize("signed_on", [date(2020, 1, 1), date(2020, 2, 29), date(2021, 8, 31)])
def test_a_one_year_term_is_evaluated_after_signing_never_on_the_signing_day(signed_on):
    # S+T−12 months = S: the one evaluation is due halfway through the term instead.
    dues = plan(terms(POLICY, signed_on, term_years=1, commissioning=1))
    assert [(d.stage, d.due_on) for d in dues] == [("commissioning", add_months(signed_on, 6))]
    assert all(signed_on < d.due_on < expires_on(terms(POLICY, signed_on, term_years=1)) for d in dues)


@pytest.mark.parametrize("term", range(1, 51))
@pytest.mark.parametrize("commissioning", [1, 3, 10])
def test_every_term_gets_a_commissioning_evaluation_within_the_term_and_after_signing(term, commissioning):
    t = terms(POLICY, date(2019, 3, 31), term_years=term, commissioning=commissioning)
    dues = plan(t)
    assert [d.stage for d in dues].count("commissioning") == 1
    assert all(t.signed_on < d.due_on < expires_on(t) for d in dues)
    assert len({d.due_on for d in dues}) == len(dues)  # never two on one day


def test_leap_day_signing_falls_back_to_28_february():
    assert add_years(date(2012, 2, 29), 1) == date(2013, 2, 28)
    assert add_years(date(2012, 2, 29), 4) == date(2016, 2, 29)
    assert add_months(date(2021, 1, 31), 1) == date(2021, 2, 28)
    assert add_months(date(2021, 3, 31), -12) == date(2020, 3, 31)


@pytest.mark.parametrize(("field", "kwargs"), [
    ("term_years", {"term_years": 0}), ("term_years", {"term_years": 51}),
    ("evaluation_interval_years", {"interval": 2}), ("evaluation_interval_years", {"interval": 6}),
    ("start_by", {"start_by": date(2019, 12, 31)}),
])
def test_terms_out_of_range_are_refused(field, kwargs):
    with pytest.raises(ValidationFailed) as err:
        terms(POLICY, date(2020, 1, 1), **kwargs)
    assert err.value.numbers["field"] == field


def test_default_start_by_is_six_months_after_signing():
    assert terms(POLICY, date(2020, 8, 31)).start_by == date(2021, 2, 28)


def test_replan_moves_pending_keeps_completed_adds_and_cancels():
    old = plan(terms(POLICY, date(2010, 1, 1)))  # commissioning 2013, periodic 2018/2023/2028, expiry 2029
    existing = [Existing(i + 1, d.stage, d.seq, d.due_on, done=d.due_on.year < 2020)
                for i, d in enumerate(old)]
    existing.append(Existing(99, "rectification", 1, date(2019, 5, 1), done=False))
    new = plan(terms(POLICY, date(2010, 1, 1), term_years=15, interval=4))
    # new: commissioning 2013, periodic 2017, 2021 (k=2); expiry 2024
    out = replan(new, existing)
    assert out.move == [(3, date(2021, 1, 1)), (5, date(2024, 1, 1))]
    assert out.add == []
    assert out.cancel == [4]  # periodic 3 is gone; completed ones (1, 2) and rectification 99 untouched
