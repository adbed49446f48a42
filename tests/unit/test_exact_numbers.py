"""Rules 4 and 6 at the boundary, in decimal: the bottom line is the peers' mean at 4 decimals, and a
commitment or a measurement equal to it is at it, whatever binary floats would make of the sums."""

from datetime import date
from decimal import Decimal

import pytest

from app.contracts.rules import check_access_standard
from app.errors import AccessStandardNotMet
from app.evaluations.bottom_line import PeerSums, bottom_line, exact
from app.evaluations.scoring import BELOW, PASS, score
from app.policy import Policy

POLICY = Policy()
DAY = date(2022, 3, 1)


def groups(outputs, taxes):
    """The district peer groups of the given latest values (as the SQL sums them: numeric)."""
    out = PeerSums(sum(exact(v) for v in outputs), len(outputs))
    tax = PeerSums(sum(exact(v) for v in taxes), len(taxes))
    return {"output_per_mu": bottom_line("output_per_mu", "C39", "310115", DAY, out, out, POLICY),
            "tax_per_mu": bottom_line("tax_per_mu", "C39", "310115", DAY, tax, tax, POLICY)}


OUTPUTS = [200.1, 200.1, 200.1, 200.1, 200.3]  # mean 200.14; in floats 200.14000000000001
TAXES = [15.1, 15.1, 15.1, 15.2, 15.4]  # mean 15.18; in floats 15.180000000000001


def test_the_float_mean_of_these_peers_is_not_the_typed_mean():
    assert sum(OUTPUTS) / 5 != 200.14 and sum(TAXES) / 5 != 15.18  # what the rules must not use


def test_bottom_line_is_the_exact_mean():
    g = groups(OUTPUTS, TAXES)
    assert (g["output_per_mu"].bottom_line, g["tax_per_mu"].bottom_line) == (Decimal("200.14"), Decimal("15.18"))
    assert g["output_per_mu"].as_dict()["bottom_line"] == 200.14


def test_committing_exactly_the_mean_passes_rule_4():
    check_access_standard("new_supply", {"output_per_mu": 200.14, "tax_per_mu": 15.18}, groups(OUTPUTS, TAXES))


def test_committing_a_hundredth_below_the_mean_is_refused():
    with pytest.raises(AccessStandardNotMet) as err:
        check_access_standard("new_supply", {"output_per_mu": 200.13, "tax_per_mu": 15.18},
                              groups(OUTPUTS, TAXES))
    assert err.value.numbers["bottom_line"] == 200.14
    assert "below the bottom line 200.14 " in err.value.detail


def test_a_repeating_mean_is_rounded_half_up_to_four_decimals_and_that_figure_passes():
    outputs = [200.1] * 5 + [200.0]  # 1200.6 / 6 = 200.08333…
    g = groups(outputs, TAXES)
    assert g["output_per_mu"].bottom_line == Decimal("200.0833")
    assert g["output_per_mu"].as_dict()["bottom_line"] == 200.0833
    check_access_standard("new_supply", {"output_per_mu": 200.0833, "tax_per_mu": 15.18}, g)
    with pytest.raises(AccessStandardNotMet):
        check_access_standard("new_supply", {"output_per_mu": 200.0832, "tax_per_mu": 15.18}, g)
    assert PeerSums(Decimal("200.0001"), 2).mean == Decimal("100.0001")  # 100.00005: half up, not to even


def test_measuring_exactly_the_mean_is_a_ratio_of_one_and_a_pass():
    result = score({}, {"output_per_mu": 200.14, "tax_per_mu": 15.18}, groups(OUTPUTS, TAXES))
    assert result.ratios == {"output_per_mu": 1.0, "tax_per_mu": 1.0}
    assert result.outcome == PASS


def test_measuring_just_below_the_mean_is_below_the_bottom_line():
    result = score({}, {"output_per_mu": 200.1399, "tax_per_mu": 15.18}, groups(OUTPUTS, TAXES))
    assert result.ratios["output_per_mu"] < 1.0
    assert result.outcome == BELOW


def test_a_contract_leaves_its_own_value_out_exactly():
    with_own = PeerSums(sum(exact(v) for v in [*OUTPUTS, 200.17]), 6)
    assert with_own.without(200.17) == PeerSums(sum(exact(v) for v in OUTPUTS), 5)
    assert with_own.without(200.17).mean == Decimal("200.14")


def test_floats_are_read_as_the_decimals_they_print_as():
    assert exact(0.1) == Decimal("0.1") and exact(200.0833) == Decimal("200.0833") and exact(3) == Decimal(3)
