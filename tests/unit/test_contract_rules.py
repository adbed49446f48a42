from datetime import date

import pytest

from app.auth.permissions import Actor
from app.contracts.rules import (
    Holding,
    ParcelFacts,
    check_access_standard,
    check_contract_land,
    check_holding,
    check_supply_lock,
    check_targets,
    parcel_status_after_signing,
)
from app.errors import (
    AccessStandardNotMet,
    ContractConflict,
    ContractInRectification,
    ForbiddenRole,
    InvalidTransition,
    LockupSupply,
    ValidationFailed,
)
from app.evaluations.bottom_line import PeerGroup
from app.exits.rules import Candidacy, check_complete, check_open, ordered, parcel_status_after_exit
from app.policy import Policy

POLICY = Policy()
DAY = date(2025, 1, 1)


def parcel(tier="base", legacy="104", land_use="industrial", status="planned"):
    return ParcelFacts(1, "P-1", land_use, tier, legacy, status, "310115")


def test_supply_lock_refuses_new_supply_on_fragment():
    with pytest.raises(LockupSupply) as err:
        check_supply_lock("new_supply", parcel(tier="fragment", legacy=None))
    assert err.value.numbers["tier"] == "fragment"


def test_supply_lock_refuses_new_supply_on_legacy_198():
    with pytest.raises(LockupSupply) as err:
        check_supply_lock("new_supply", parcel(tier="community", legacy="198"))
    assert err.value.numbers["legacy_zone"] == "198"


@pytest.mark.parametrize("kind", ["renewal", "transfer"])
def test_supply_lock_allows_renewal_and_transfer(kind):
    check_supply_lock(kind, parcel(tier="fragment", legacy="198"))


def test_contracts_are_for_industrial_land():
    with pytest.raises(ValidationFailed):
        check_contract_land(parcel(land_use="office", tier=None))


def test_unknown_indicator_is_refused():
    with pytest.raises(ValidationFailed):
        check_targets({"profit": 3.0})


def holding(status="active", enterprise=7, expires=date(2030, 6, 1)):
    return Holding(5, "C-5", status, enterprise, expires)


def test_conflict_when_the_parcel_is_held():
    with pytest.raises(ContractConflict) as err:
        check_holding("new_supply", 8, DAY, 1, holding(), True, POLICY)
    assert err.value.numbers["contract_id"] == 5


def test_renewal_by_the_holder_in_its_last_year_takes_over():
    assert check_holding("renewal", 7, date(2029, 6, 1), 1, holding(), True, POLICY) == holding()


def test_renewal_before_the_last_year_conflicts():
    with pytest.raises(ContractConflict, match="from 2029-06-01"):
        check_holding("renewal", 7, date(2029, 5, 31), 1, holding(), True, POLICY)


def test_renewal_in_rectification_is_refused():
    with pytest.raises(ContractInRectification):
        check_holding("renewal", 7, date(2029, 6, 1), 1, holding("rectification"), True, POLICY)


def test_renewal_needs_an_earlier_contract():
    with pytest.raises(ValidationFailed):
        check_holding("renewal", 7, DAY, 1, None, False, POLICY)


def group(code, line, source="district", n=6):
    return PeerGroup(code, line, source, line, n, "C39", "310115" if source == "district" else None, DAY)


def test_access_standard_names_bottom_line_peer_group_and_n():
    groups = {"output_per_mu": group("output_per_mu", 800.0),
              "tax_per_mu": group("tax_per_mu", 50.0, "city", 9)}
    with pytest.raises(AccessStandardNotMet) as err:
        check_access_standard("new_supply", {"output_per_mu": 900.0, "tax_per_mu": 40.0}, groups)
    n = err.value.numbers
    assert (n["indicator"], n["bottom_line"], n["n"], n["committed"]) == ("tax_per_mu", 50.0, 9, 40.0)
    assert n["peer_group"] == {"industry_code": "C39", "district_code": None, "year": 2025,
                               "as_of": "2025-01-01"}


def test_access_standard_counts_a_missing_efficiency_target_as_not_committed():
    groups = {"output_per_mu": group("output_per_mu", 800.0), "tax_per_mu": group("tax_per_mu", 50.0)}
    with pytest.raises(AccessStandardNotMet) as err:
        check_access_standard("new_supply", {"output_per_mu": 900.0}, groups)
    assert err.value.numbers["committed"] is None
    check_access_standard("renewal", {}, groups)


def test_signing_supplies_planned_or_recovered_land():
    assert parcel_status_after_signing("new_supply", "planned") == "supplied"
    assert parcel_status_after_signing("transfer", "exiting") == "supplied"
    assert parcel_status_after_signing("new_supply", "operating") is None
    assert parcel_status_after_signing("renewal", "recovered") is None


BUREAU = Actor(1, "bureau", "bureau")


def test_only_the_bureau_opens_exit_cases_for_candidates():
    cands = [Candidacy("idle_land", ())]
    with pytest.raises(ForbiddenRole):
        check_open(Actor(2, "o", "district_officer", "310115"), 1, "active", cands, "recovery", DAY, DAY, DAY)
    with pytest.raises(InvalidTransition):
        check_open(BUREAU, 1, "active", [], "recovery", DAY, DAY, DAY)
    with pytest.raises(InvalidTransition):
        check_open(BUREAU, 1, "exiting", cands, "recovery", DAY, DAY, DAY)
    check_open(BUREAU, 1, "rectification", cands, "buyback", DAY, DAY, DAY)
    with pytest.raises(ValidationFailed):  # not in the future
        check_open(BUREAU, 1, "active", cands, "recovery", date(2025, 1, 2), DAY, DAY)


def test_reasons_are_ordered_and_evidence_merged():
    assert ordered([Candidacy("idle_land", ()), Candidacy("failed_rectification", (9, 7))]) == (
        ["failed_rectification", "idle_land"], [7, 9])


def test_completing_a_transfer_needs_the_new_contract():
    with pytest.raises(ValidationFailed):
        check_complete(BUREAU, 1, "open", "transfer", DAY, DAY, False, DAY)
    with pytest.raises(InvalidTransition):
        check_complete(BUREAU, 1, "completed", "recovery", DAY, DAY, False, DAY)
    assert parcel_status_after_exit("transfer") == "supplied"
    assert parcel_status_after_exit("buyback") == "recovered"
