from datetime import date

import pytest

from app.errors import InvalidTransition
from app.evaluations.scoring import BELOW, PASS
from app.evaluations.workflow import Decision, Previous, consequence
from app.policy import Policy

POLICY = Policy()
DAY = date(2024, 5, 10)
RECT_BY = date(2025, 5, 10)


def test_pass_on_active_changes_nothing():
    d = consequence("active", None, "periodic", PASS, 7, DAY, None, POLICY)
    assert d == Decision("active", None, "none")


def test_first_below_bottom_line_opens_rectification_with_a_re_evaluation_a_year_later():
    d = consequence("active", None, "periodic", BELOW, 7, DAY, Previous(3, PASS), POLICY)
    assert d == Decision("rectification", date(2025, 5, 10), "rectification", evidence=(7,),
                         rectification_due_on=date(2025, 5, 10))


def test_rectification_period_is_configurable():
    d = consequence("active", None, "periodic", BELOW, 7, DAY, None, Policy(rectification_years=2))
    assert d.rectify_by == d.rectification_due_on == date(2026, 5, 10)


def test_pass_in_rectification_restores_active_and_drops_the_re_evaluation():
    d = consequence("rectification", RECT_BY, "rectification", PASS, 9, DAY, Previous(7, BELOW, (7,)), POLICY)
    assert d == Decision("active", None, "restored", cancel_rectification=True)


def test_failed_rectification_makes_an_exit_candidate_with_the_chain_of_evidence():
    first_below = Previous(7, BELOW, (7,))
    d = consequence("rectification", RECT_BY, "rectification", BELOW, 9, DAY, first_below, POLICY)
    assert (d.status, d.consequence, d.exit_reason, d.evidence) == (
        "rectification", "exit_candidate", "failed_rectification", (7, 9))
    assert d.rectify_by == date(2025, 5, 10)


def test_second_consecutive_below_on_a_periodic_evaluation_is_repeated_below_bottom_line():
    d = consequence("rectification", RECT_BY, "periodic", BELOW, 9, DAY, Previous(7, BELOW, (7,)), POLICY)
    assert (d.consequence, d.exit_reason) == ("exit_candidate", "repeated_below_bottom_line")
    assert d.evidence == (7, 9)


def test_a_third_below_extends_the_chain():
    d = consequence("rectification", RECT_BY, "periodic", BELOW, 12, DAY, Previous(9, BELOW, (7, 9)), POLICY)
    assert d.evidence == (7, 9, 12)


@pytest.mark.parametrize("status", ["exiting", "terminated", "expired"])
def test_contracts_out_of_force_take_no_results(status):
    with pytest.raises(InvalidTransition):
        consequence(status, None, "periodic", PASS, 1, DAY, None, POLICY)
