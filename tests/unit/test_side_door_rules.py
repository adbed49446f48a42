"""Pure rules that close the side doors around the life cycle (SPEC §4, rules 2 and 9): the plot ratio of
contracted land, the bureau's legacy zone, renewals and transfers that really continue a contract, and no
extension of an expired term."""

from datetime import date

import pytest

from app.contracts.rules import RENEWAL_GRACE_DAYS, Holding, check_holding, check_term_change
from app.errors import ContractConflict, ForbiddenRole, InvalidTransition, PlotRatioRequestRequired
from app.parcels.rules import (
    ContractInForce,
    Override,
    check_contracted_plot_ratio,
    check_legacy_zone,
    ratio_changes,
)
from app.policy import Policy

POLICY = Policy()
ACTIVE = ContractInForce(5, "HT-5", "active")
OVERRIDE = Override(decision_ref="沪规划资源〔2026〕3号", reason="court ruling")
EXPIRES = date(2026, 5, 1)


def holder(status: str = "active", enterprise_id: int = 7) -> Holding:
    return Holding(5, "HT-5", status, enterprise_id, EXPIRES)


# ------------------------------------------------------------------------------------ plot ratio (rule 9)
def test_the_plot_ratio_of_contracted_land_changes_only_through_a_request():
    with pytest.raises(PlotRatioRequestRequired) as err:
        check_contracted_plot_ratio(1, 1.05, 1.95, ACTIVE, None, actor_is_bureau=True)
    n = err.value.numbers
    assert (n["contract_id"], n["current"], n["requested"], n["procedure"]) == (5, 1.05, 1.95, "plot_ratio_request")
    assert "plot-ratio request" in err.value.detail and err.value.status == 409


def test_in_rectification_the_refusal_says_no_request_is_taken():
    with pytest.raises(PlotRatioRequestRequired, match="while it is in rectification"):
        check_contracted_plot_ratio(1, 1.05, 1.2, ContractInForce(5, "HT-5", "rectification"), None, False)


def test_a_bureau_override_lifts_it_and_a_district_override_does_not():
    assert check_contracted_plot_ratio(1, 1.05, 1.95, ACTIVE, OVERRIDE, actor_is_bureau=True) is True
    with pytest.raises(PlotRatioRequestRequired):
        check_contracted_plot_ratio(1, 1.05, 1.95, ACTIVE, OVERRIDE, actor_is_bureau=False)


def test_land_without_a_contract_and_unchanged_ratios_pass():
    assert check_contracted_plot_ratio(1, 1.05, 1.95, None, None, False) is False
    assert check_contracted_plot_ratio(1, 1.05, 1.050000001, ACTIVE, None, False) is False
    assert ratio_changes(None, 1.0) and ratio_changes(1.0, None) and not ratio_changes(None, None)


# ------------------------------------------------------------------------------------ legacy zone
def test_only_the_bureau_sets_or_changes_a_legacy_zone():
    check_legacy_zone("195", "198", actor_is_bureau=True)
    check_legacy_zone("198", "198", actor_is_bureau=False)
    check_legacy_zone(None, None, actor_is_bureau=False)
    for before, after in (("198", "195"), ("198", None), (None, "104")):
        with pytest.raises(ForbiddenRole) as err:
            check_legacy_zone(before, after, actor_is_bureau=False)
        assert err.value.numbers["field"] == "legacy_zone"


# ------------------------------------------------------------------------------------ renewal, transfer
def test_a_renewal_is_signed_at_the_latest_the_grace_after_expiry():
    last = date(2026, 5, 1 + RENEWAL_GRACE_DAYS)
    assert check_holding("renewal", 7, last, 1, holder(), True, POLICY) == holder()
    with pytest.raises(ContractConflict, match="without a gap"):
        check_holding("renewal", 7, date(2026, 5, 3), 1, holder(), True, POLICY)


def test_a_renewal_needs_a_holding_contract_of_the_same_enterprise():
    with pytest.raises(ContractConflict, match="none holds it") as err:
        check_holding("renewal", 7, date(2026, 3, 1), 1, None, True, POLICY)
    assert err.value.numbers["allowed_kinds"] == ["new_supply"]
    with pytest.raises(ContractConflict, match="same enterprise"):
        check_holding("renewal", 8, date(2026, 3, 1), 1, holder(), True, POLICY)
    with pytest.raises(ContractConflict):
        check_holding("renewal", 7, date(2026, 3, 1), 1, holder("exiting"), True, POLICY)


def test_a_transfer_needs_an_open_exit_case_of_method_transfer():
    assert check_holding("transfer", 9, date(2026, 3, 1), 1, None, True, POLICY, transfer_case_id=3) is None
    with pytest.raises(ContractConflict, match="exit case of method transfer"):
        check_holding("transfer", 9, date(2026, 3, 1), 1, None, True, POLICY)
    with pytest.raises(ContractConflict, match="is held by contract"):
        check_holding("transfer", 9, date(2026, 3, 1), 1, holder(), True, POLICY, transfer_case_id=3)


# ------------------------------------------------------------------------------------ terms
def test_an_expired_term_is_not_extended():
    signed = date(2006, 5, 1)
    check_term_change(5, EXPIRES, signed, 20, today=date(2026, 6, 1))  # unchanged
    check_term_change(5, EXPIRES, signed, 25, today=date(2026, 4, 30))  # still in force: amended
    with pytest.raises(InvalidTransition, match="sign a renewal") as err:
        check_term_change(5, EXPIRES, signed, 25, today=date(2026, 6, 1))
    assert (err.value.numbers["from"], err.value.numbers["allowed"]) == ("expired", ["renewal"])
    with pytest.raises(InvalidTransition):
        check_term_change(5, EXPIRES, date(2007, 5, 1), 20, today=EXPIRES)
