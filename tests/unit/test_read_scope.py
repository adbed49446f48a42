"""SPEC §4 read scope as one pure decision: who reads which district's confidential data."""

import pytest

from app.auth.permissions import (
    ANONYMOUS,
    Actor,
    Scope,
    contract_scope,
    may_read,
    read_scope,
    require_in_scope,
    require_read_district,
    require_readable,
    require_registry_reader,
)
from app.errors import ForbiddenDistrict, ForbiddenRole, Unauthenticated

EAST, WEST = "310115", "310112"
OFFICER = Actor(4, "officer.east", "district_officer", EAST)
EVALUATOR = Actor(5, "evaluator.east", "evaluator", EAST)


@pytest.mark.parametrize("role", ["bureau", "admin", "viewer"])
def test_bureau_admin_and_viewer_read_city_wide(role):
    actor = Actor(1, role, role)
    assert read_scope(actor, "read contracts") is None
    assert require_read_district(actor, None, "read contracts") is None
    assert require_read_district(actor, WEST, "read contracts") == WEST
    require_readable(actor, WEST, "read contracts")


@pytest.mark.parametrize("actor", [OFFICER, EVALUATOR])
def test_district_roles_read_their_own_district_only(actor):
    assert read_scope(actor, "read evaluations") == EAST
    assert require_read_district(actor, None, "read evaluations") == EAST  # a queue without a filter
    assert require_read_district(actor, EAST, "read evaluations") == EAST
    require_readable(actor, EAST, "read evaluations")
    with pytest.raises(ForbiddenDistrict) as refused:
        require_read_district(actor, WEST, "read evaluations")
    assert refused.value.numbers == {"your_district": EAST, "district_code": WEST}
    for where in (WEST, None):  # a resource outside any district is outside theirs too
        with pytest.raises(ForbiddenDistrict):
            require_readable(actor, where, "read evaluations")


def test_a_district_role_without_a_district_never_reads_city_wide():
    with pytest.raises(ForbiddenDistrict):
        read_scope(Actor(6, "broken", "district_officer", None), "read contracts")


def test_the_public_and_unknown_roles_read_no_confidential_data():
    for check in (lambda a: read_scope(a, "read contracts"), lambda a: require_registry_reader(a, "read enterprises")):
        with pytest.raises(Unauthenticated):
            check(ANONYMOUS)
        with pytest.raises(ForbiddenRole):
            check(Actor(7, "later", "data_provider"))
    require_registry_reader(OFFICER, "read enterprises")  # registry data: every signed-in role, city-wide


MANAGER = Actor(8, "manager.industry", "org_manager", organisation_id=3)


def test_an_org_manager_reads_its_organisations_contracts_in_any_district():
    """SPEC §4 (谁提出、谁管理): its scope is its organisation, in every district; a district narrows it."""
    assert contract_scope(MANAGER, None, "read contracts") == Scope(None, 3)
    assert contract_scope(MANAGER, WEST, "read contracts") == Scope(WEST, 3)
    require_in_scope(MANAGER, WEST, 3, "read contracts")
    for other in (4, None):
        with pytest.raises(ForbiddenRole) as refused:
            require_in_scope(MANAGER, EAST, other, "read contracts")
        assert refused.value.numbers["your_organisation"] == 3
    require_registry_reader(MANAGER, "read enterprises")  # registry data, as a district officer reads it
    assert may_read(MANAGER, "read landcycle:exit_candidates")
    assert not may_read(Actor(9, "provider.tax", "data_provider", source="tax"), "read contracts")


def test_an_org_manager_without_an_organisation_reads_nothing():
    with pytest.raises(ForbiddenRole):
        contract_scope(Actor(10, "broken", "org_manager"), None, "read contracts")


def test_district_readers_scopes_are_their_districts_as_before():
    assert contract_scope(OFFICER, None, "read contracts") == Scope(EAST)
    assert contract_scope(Actor(1, "bureau", "bureau"), WEST, "read contracts") == Scope(WEST)
    with pytest.raises(ForbiddenDistrict):
        require_in_scope(OFFICER, WEST, 3, "read contracts")
