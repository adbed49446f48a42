"""Rule 3 over gathered facts (the one check every write path uses) and SPEC §2's overlap refusal, as pure
functions (no database)."""

import pytest

from app.errors import FarCapExceeded, NotFound
from app.parcels.rules import (
    FarFacts,
    Reference,
    ZoneFacts,
    check_far_facts,
    overlap_refusal,
    reference_needed,
)
from app.policy import Policy

POLICY = Policy()
LOW_CAP = ZoneFacts(id=4, code="C2", kind="community", advanced_manufacturing=False, far_cap=1.6, far_min=1.0)


def office(ratio: float, distance: float = 300.0) -> Reference:
    return Reference(id=99, code="OFF-1", land_use="office", plot_ratio=ratio, distance_m=distance, same_zone=False)


def test_references_are_needed_only_above_the_base_cap():
    assert not reference_needed("industrial", 2.0, None, POLICY)
    assert reference_needed("industrial", 2.1, None, POLICY)
    assert reference_needed("industrial", 1.7, LOW_CAP, POLICY)
    assert not reference_needed("office", 9.0, None, POLICY)
    assert not reference_needed("industrial", None, None, POLICY)


def test_a_named_reference_that_is_no_current_parcel_is_not_found_by_the_parcel_field_name():
    with pytest.raises(NotFound) as err:
        check_far_facts(FarFacts("industrial", 2.8, None, reference_id=41), POLICY)
    assert err.value.numbers == {"plot_ratio_reference_id": 41}


def test_a_named_reference_below_the_cap_is_not_looked_at():
    cap = check_far_facts(FarFacts("industrial", 1.8, None, reference_id=41), POLICY)
    assert (cap.value, cap.source, cap.reference_id) == (2.0, "default", None)


def test_a_parcel_write_names_the_qualifying_nearest_reference_in_its_refusal():
    with pytest.raises(FarCapExceeded) as err:
        check_far_facts(FarFacts("industrial", 2.8, None, nearest=office(3.5)), POLICY)
    assert err.value.detail.endswith("; name it as the reference parcel")
    assert err.value.numbers["nearest_reference"]["qualifies"] is True


def test_a_plot_ratio_request_adopts_the_qualifying_nearest_reference():
    cap = check_far_facts(FarFacts("industrial", 2.8, None, nearest=office(3.5)), POLICY,
                          adopt_nearest_reference=True)
    assert (cap.value, cap.source, cap.reference_id) == (3.5, "reference", 99)


def test_a_plot_ratio_request_does_not_adopt_a_nearest_reference_that_does_not_qualify():
    with pytest.raises(FarCapExceeded) as err:
        check_far_facts(FarFacts("industrial", 2.8, None, nearest=office(2.4)), POLICY, adopt_nearest_reference=True)
    assert err.value.numbers["nearest_reference"]["qualifies"] is False


def test_an_overlap_within_the_tolerance_is_no_refusal():
    assert overlap_refusal("parcel 7 (P-7)", POLICY.overlap_tolerance_m2, POLICY) is None


def test_an_overlap_beyond_the_tolerance_names_the_other_area_and_tolerance():
    refusal = overlap_refusal("row 3 (A-3)", 1234.567, POLICY, other_parcel_id=None)
    assert refusal is not None and refusal.code == "PARCEL_OVERLAP"
    assert refusal.detail == ("overlaps row 3 (A-3) by 1234.6 m² "
                              "(industrial/R&D parcels may overlap by at most 1 m²)")
    assert refusal.numbers == {"other_parcel_id": None, "overlap_m2": 1234.57, "tolerance_m2": 1.0}
