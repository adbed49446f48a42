"""亩均 ratings (app/ratings/rules.py): benchmarks, components, scores, ranks and classes of a small
hand-computed example; small plots and enterprises without figures not rated; the Zhejiang rule for a
missing indicator; the D-years consequence."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from app.policy import Policy
from app.ratings import rules
from app.ratings.rules import Subject

D = Decimal
ZHEJIANG = ("tax_per_mu:30,value_added_per_mu:20,value_added_per_energy:20,value_added_per_emissions:10,"
            "labour_productivity:10,rnd_intensity:10")


def profile(**changes: object) -> rules.Profile:
    # Weights tax 60 / output 40, cap 1.5, cut-offs 0.20 / 0.60 / 0.80 (so that five firms reach D).
    base = Policy(rating_weights="tax_per_mu:60,output_per_mu:40", rating_cap=1.5,
                  rating_cutoffs=(0.20, 0.60, 0.80))
    return rules.profile(replace(base, **changes))  # type: ignore[arg-type]


def firm(n: int, mu: str, group: str = "310115", **figures: str) -> Subject:
    return Subject(n, D(mu), group, {k: D(v) for k, v in figures.items()})


def test_a_year_of_classes_matches_the_hand_computed_example():
    subjects = [
        firm(1, "10", tax_paid="200", output_value="3000"),
        firm(2, "10", tax_paid="150", output_value="4000"),
        firm(3, "10", tax_paid="100", output_value="2000"),
        firm(4, "10", tax_paid="50", output_value="1000"),
        firm(5, "10", tax_paid="100"),  # no output delivered
        firm(6, "2", tax_paid="900", output_value="9000"),  # a small plot: not rated, not in the means
        firm(7, "10", energy_use="40"),  # none of the weighted figures
    ]
    rated, marks = rules.rate(subjects, profile())
    # tax per mu: 20, 15, 10, 5, 10 → mean 12 = benchmark (factor 1); components 20/12 = 1.6667 capped at
    # 1.5, 15/12 = 1.25, 10/12 = 0.8333, 5/12 = 0.4167, 0.8333.
    # output per mu (4 firms): 300, 400, 200, 100 → mean 250; components 1.2, 1.6 capped 1.5, 0.8, 0.4;
    # firm 5 has none and gets the mean component (1.2 + 1.5 + 0.8 + 0.4) / 4 = 0.975.
    tax, output = marks["310115"]["tax_per_mu"], marks["310115"]["output_per_mu"]
    assert (tax.mean, tax.benchmark) == (D(12), D(12))
    assert (output.mean, output.benchmark, output.missing_component) == (D(250), D(250), D("0.975"))
    # score = 60 × tax component + 40 × output component:
    #   1: 60 × 1.5 + 40 × 1.2 = 138     2: 60 × 1.25 + 40 × 1.5 = 135     3: 50 + 32 = 82
    #   4: 25 + 16 = 41                  5: 60 × 0.8333 + 40 × 0.975 = 50 + 39 = 89
    # ranks 1, 2, 4, 5, 3 of 5; shares better: 0, 0.2, 0.6, 0.8, 0.4 → A (< 0.2), B (< 0.6), C (< 0.8), D.
    got = {r.enterprise_id: (r.score, r.rank, r.group_size, r.cls, r.unrated_reason) for r in rated}
    assert got == {
        1: (D("138.0000"), 1, 5, "A", None),
        2: (D("135.0000"), 2, 5, "B", None),
        3: (D("82.0000"), 4, 5, "C", None),
        4: (D("41.0000"), 5, 5, "D", None),
        5: (D("89.0000"), 3, 5, "B", None),
        6: (None, None, None, None, rules.LAND_BELOW_THRESHOLD),
        7: (None, None, None, None, rules.NO_FIGURES),
    }
    assert rated[4].components == {"tax_per_mu": D(10) / D(12), "output_per_mu": D("0.975")}
    assert rated[0].indicators == {"tax_per_mu": D(20), "output_per_mu": D(300)}
    assert rated[6].indicators == {}  # energy alone gives no indicator of the default set


def test_the_benchmark_factor_and_the_threshold_are_policy():
    subjects = [firm(1, "4", tax_paid="40", output_value="400"), firm(2, "4", tax_paid="20", output_value="200")]
    # Counties benchmark against about twice the mean: tax 10 and 5 per mu, mean 7.5, benchmark 15.
    rated, marks = rules.rate(subjects, profile(rating_benchmark_factor=2.0))
    assert marks["310115"]["tax_per_mu"].benchmark == D(15)
    # 1: 60 × 10/15 + 40 × 100/150 = 40 + 26.6667;  2: 20 + 13.3333
    assert [r.score for r in rated] == [D("66.6667"), D("33.3333")]
    # Hangzhou rated firms from 5 mu: both 4-mu firms drop out.
    rated, marks = rules.rate(subjects, profile(rating_min_land_mu=5.0))
    assert [r.unrated_reason for r in rated] == [rules.LAND_BELOW_THRESHOLD] * 2 and marks == {}


def test_equal_scores_share_rank_and_class_and_groups_rank_apart():
    subjects = [firm(1, "10", tax_paid="100", output_value="1000"), firm(2, "10", tax_paid="100",
                                                                          output_value="1000"),
                firm(3, "10", "310112", tax_paid="10", output_value="100")]
    rated, _ = rules.rate(subjects, profile())
    # Each district is its own group: the west firm alone is its district's best.
    assert [(r.rank, r.group_size, r.cls, r.score) for r in rated] == [
        (1, 2, "A", D("100.0000")), (1, 2, "A", D("100.0000")), (1, 1, "A", D("100.0000"))]
    rated, marks = rules.rate(subjects, profile(rating_grouping="city"))
    # City-wide: tax 10, 10, 1 → mean 7; 60 × 10/7 = 85.7143 + 40 × 1000/700 = 57.1429 → 142.8571; the
    # third is beaten by 2 of 3 (share 0.667: C, not yet D at 0.80).
    assert list(marks) == [None]
    assert [(r.rank, r.cls, r.score) for r in rated] == [(1, "A", D("142.8571")), (1, "A", D("142.8571")),
                                                         (3, "C", D("14.2857"))]


def test_the_policy_profiles_parse_and_bad_ones_are_refused():
    assert rules.profile(Policy()).weights == {"tax_per_mu": 45, "output_per_mu": 35, "tax_per_energy": 20}
    assert sum(rules.parse_weights(ZHEJIANG).values()) == 100
    assert rules.parse_classes("c, d") == ("C", "D")
    for bad in ("tax:45", "tax_per_mu:-1", "tax_per_mu:x", "tax_per_mu:0", "tax_per_mu:1,tax_per_mu:2"):
        with pytest.raises(ValueError, match="rating weight"):
            rules.parse_weights(bad)
    with pytest.raises(ValueError, match="among A, B, C, D"):
        rules.parse_classes("C,E")
    with pytest.raises(ValueError, match="grouping"):
        rules.profile(Policy(rating_grouping="county"))
    with pytest.raises(ValueError, match="cut-offs must rise"):
        rules.profile(Policy(rating_cutoffs=(0.6, 0.2, 0.95)))


def test_zhejiang_enterprises_without_emissions_data_get_the_average_item_score():
    prof = rules.profile(Policy(rating_weights="value_added_per_mu:50,value_added_per_emissions:50", rating_cap=3.0))
    subjects = [firm(1, "10", value_added="100", emissions="10"), firm(2, "10", value_added="100", emissions="40"),
                firm(3, "10", value_added="100")]
    rated, marks = rules.rate(subjects, prof)
    # value added per kg: 10 and 2.5, mean 6.25; components 1.6 and 0.4; firm 3 gets their mean 1.0.
    assert marks["310115"]["value_added_per_emissions"].missing_component == D(1)
    assert [r.score for r in rated] == [D("130.0000"), D("70.0000"), D("100.0000")]


def test_d_in_each_of_the_last_n_rated_years():
    assert rules.consecutive_d({2023: "D", 2024: "D", 2025: "D"}, 3)
    assert not rules.consecutive_d({2023: "D", 2024: "D", 2025: "D"}, 4)
    assert not rules.consecutive_d({2022: "D", 2024: "D", 2025: "D"}, 3)  # 2023 not rated: not consecutive
    assert not rules.consecutive_d({2023: "D", 2024: "D", 2025: None}, 3)  # its latest year not rated
    assert not rules.consecutive_d({2023: "D", 2024: "D", 2025: "D"}, 0)  # 0: never
