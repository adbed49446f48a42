from datetime import date

import pytest

from app.errors import ValidationFailed
from app.evaluations.bottom_line import PeerGroup, PeerSums, bottom_line
from app.evaluations.scoring import BELOW, PASS, check_measurements, score
from app.policy import Policy

POLICY = Policy()
DAY = date(2024, 6, 30)


def groups(output=800.0, tax=50.0):
    return {"output_per_mu": PeerGroup("output_per_mu", output, "district", output, 6, "C39", "310115", DAY),
            "tax_per_mu": PeerGroup("tax_per_mu", tax, "district", tax, 6, "C39", "310115", DAY)}


def test_bottom_line_uses_the_district_when_it_has_five_peers():
    g = bottom_line("output_per_mu", "C39", "310115", DAY, PeerSums(5000.0, 5), PeerSums(9000.0, 10), POLICY)
    assert (g.source, g.bottom_line, g.n, g.district_code) == ("district", 1000.0, 5, "310115")


def test_bottom_line_falls_back_to_the_city_below_five_district_peers():
    g = bottom_line("output_per_mu", "C39", "310115", DAY, PeerSums(4000.0, 4), PeerSums(9000.0, 10), POLICY)
    assert (g.source, g.bottom_line, g.n, g.district_code) == ("city", 900.0, 10, None)


def test_bottom_line_falls_back_to_the_floor_below_five_city_peers():
    g = bottom_line("tax_per_mu", "C39", "310115", DAY, PeerSums(0.0, 0), PeerSums(120.0, 4), POLICY)
    assert (g.source, g.bottom_line, g.mean, g.n) == ("floor", 15.0, 30.0, 4)
    assert bottom_line("output_per_mu", "C39", None, DAY, PeerSums(), PeerSums(), POLICY).bottom_line == 200.0


def test_a_contract_is_not_its_own_peer():
    assert PeerSums(500.0, 5).without(100.0) == PeerSums(400.0, 4)
    assert PeerSums(500.0, 5).without(None) == PeerSums(500.0, 5)


def test_peer_group_freezes_mean_n_and_group():
    assert groups()["tax_per_mu"].as_dict() == {
        "bottom_line": 50.0, "source": "district", "mean": 50.0, "n": 6,
        "group": {"industry_code": "C39", "district_code": "310115", "year": 2024, "as_of": "2024-06-30"}}


def test_pass_needs_every_ratio_at_least_one_and_every_target_met():
    targets = {"output_per_mu": 700.0, "tax_per_mu": 40.0, "energy_per_value_added": 0.2}
    measured = {"output_per_mu": 800.0, "tax_per_mu": 55.0, "energy_per_value_added": 0.2}
    result = score(targets, measured, groups())
    assert result.outcome == PASS
    assert result.ratios == {"output_per_mu": 1.0, "tax_per_mu": 1.1}
    assert result.attainment["energy_per_value_added"] == {
        "target": 0.2, "measured": 0.2, "comparator": "<=", "unit": "tce/万元", "met": True}


def test_below_the_bottom_line_on_one_efficiency_indicator():
    result = score({"output_per_mu": 700.0}, {"output_per_mu": 799.0, "tax_per_mu": 60.0}, groups())
    assert result.outcome == BELOW
    assert result.ratios["output_per_mu"] == pytest.approx(799 / 800)
    assert result.attainment["output_per_mu"]["met"] is True


def test_a_missed_target_fails_even_above_the_bottom_line():
    result = score({"jobs": 100.0, "energy_per_value_added": 0.1},
                   {"output_per_mu": 900.0, "tax_per_mu": 60.0, "jobs": 99.0, "energy_per_value_added": 0.05},
                   groups())
    assert result.outcome == BELOW
    assert result.attainment["jobs"]["met"] is False
    assert result.attainment["energy_per_value_added"]["met"] is True


@pytest.mark.parametrize(("measurements", "words"), [
    ({"output_per_mu": 1.0, "jobs": 3}, "missing for tax_per_mu"),
    ({"output_per_mu": 1.0, "tax_per_mu": 1.0, "foo": 2.0}, "unknown indicator"),
    ({"output_per_mu": -1.0, "tax_per_mu": 1.0, "jobs": 3}, "≥ 0"),
    ({"output_per_mu": float("nan"), "tax_per_mu": 1.0, "jobs": 3}, "finite"),
])
def test_measurements_are_checked(measurements, words):
    with pytest.raises(ValidationFailed) as err:
        check_measurements({"jobs": 10.0}, measurements)
    assert words in err.value.detail
