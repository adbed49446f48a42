"""SPEC §4 read scope as one pure decision: who reads which district's confidential data."""

import pytest

from app.auth.permissions import (
    ANONYMOUS,
    Actor,
    read_scope,
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
