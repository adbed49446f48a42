"""The rule numbers live once, in app/policy.py: their defaults are SPEC.md's, and each settable one is set
by its own LANDCYCLE_ name (README, configuration) within its bounds and reaches the rules through
`Settings.policy`."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from app.policy import Policy, settable
from app.settings import Settings


def _env_names() -> list[tuple[str, str, int | None]]:
    """(LANDCYCLE_ name, Policy field, member of a tuple or None) for every settable number."""
    out: list[tuple[str, str, int | None]] = []
    for f, how in settable():
        if how.names:
            out += [(f"LANDCYCLE_{name.upper()}", f.name, i) for i, name in enumerate(how.names)]
        else:
            out.append((f"LANDCYCLE_{f.name.upper()}", f.name, None))
    return out


def test_policy_defaults_are_the_numbers_of_the_spec():
    p = Policy()
    assert (p.far_cap_industrial, p.far_cap_rnd, p.far_reference_distance_m) == (2.0, 3.0, 1000.0)  # rule 3
    assert (p.overlap_tolerance_m2, p.tier_majority_share) == (1.0, 0.5)  # §2
    assert p.extent == (120.8, 30.6, 122.2, 31.9)  # §2: Shanghai, lon 120.8–122.2, lat 30.6–31.9
    assert (p.bottom_line_floor("output_per_mu"), p.bottom_line_floor("tax_per_mu"), p.peer_min_contracts) == (
        200.0, 15.0, 5)  # rule 4
    assert (p.term_years_default, p.term_years_range) == (20, (1, 50))  # rule 5
    assert (p.evaluation_interval_default, p.evaluation_interval_range) == (5, (3, 5))
    assert (p.commissioning_years_default, p.expiry_evaluation_months) == (3, 12)
    assert (p.rectification_years, p.idle_after_years) == (1, 1)  # rule 7
    assert (p.efficiency_weight_tax, p.efficiency_weight_output, p.efficiency_weight_green) == (45.0, 35.0, 20.0)
    assert p.efficiency_cutoffs == (0.20, 0.60, 0.95)  # §5: A top 20 %, B 20–60 %, C 60–95 %, D bottom 5 %
    assert (p.target_2020_km2, p.band_2035_km2, p.target_2025_base_am_km2) == (550.0, (320.0, 480.0), 150.0)
    assert p.today is None


def test_settings_without_environment_give_the_policy_defaults():
    assert Settings().policy == Policy()


def test_the_readme_names_of_the_rule_numbers_are_all_settable():
    names = {name for name, _, _ in _env_names()}
    assert {"LANDCYCLE_FAR_CAP_INDUSTRIAL", "LANDCYCLE_FAR_CAP_RND", "LANDCYCLE_FAR_REFERENCE_DISTANCE_M",
            "LANDCYCLE_OVERLAP_TOLERANCE_M2", "LANDCYCLE_TIER_MAJORITY_SHARE", "LANDCYCLE_EXTENT_MIN_LON",
            "LANDCYCLE_EXTENT_MIN_LAT", "LANDCYCLE_EXTENT_MAX_LON", "LANDCYCLE_EXTENT_MAX_LAT",
            "LANDCYCLE_BOTTOM_LINE_FLOOR_OUTPUT_PER_MU", "LANDCYCLE_BOTTOM_LINE_FLOOR_TAX_PER_MU",
            "LANDCYCLE_PEER_MIN_CONTRACTS", "LANDCYCLE_TERM_YEARS_DEFAULT", "LANDCYCLE_EVALUATION_INTERVAL_DEFAULT",
            "LANDCYCLE_COMMISSIONING_YEARS_DEFAULT", "LANDCYCLE_START_BY_DEFAULT_MONTHS",
            "LANDCYCLE_RECTIFICATION_YEARS", "LANDCYCLE_IDLE_AFTER_YEARS", "LANDCYCLE_EFFICIENCY_WEIGHT_TAX",
            "LANDCYCLE_EFFICIENCY_WEIGHT_OUTPUT", "LANDCYCLE_EFFICIENCY_WEIGHT_GREEN",
            "LANDCYCLE_EFFICIENCY_CUTOFF_A", "LANDCYCLE_EFFICIENCY_CUTOFF_B", "LANDCYCLE_EFFICIENCY_CUTOFF_C",
            "LANDCYCLE_EFFICIENCY_RATIO_CAP", "LANDCYCLE_RATING_WEIGHTS", "LANDCYCLE_RATING_CUTOFF_A",
            "LANDCYCLE_RATING_CUTOFF_B", "LANDCYCLE_RATING_CUTOFF_C", "LANDCYCLE_RATING_BENCHMARK_FACTOR",
            "LANDCYCLE_RATING_CAP", "LANDCYCLE_RATING_MIN_LAND_MU", "LANDCYCLE_RATING_GROUPING",
            "LANDCYCLE_RATING_EXIT_AFTER_D_YEARS", "LANDCYCLE_RATING_RECTIFICATION_CLASSES"} == names


# The settings that are words: another valid value of each.
OTHER_WORDS = {"rating_weights": "tax_per_mu:50,value_added_per_mu:50", "rating_grouping": "city",
               "rating_rectification_classes": "D"}


@pytest.mark.parametrize(("env", "field", "member"), _env_names(), ids=[n for n, _, _ in _env_names()])
def test_every_policy_setting_is_set_by_its_environment_name(monkeypatch, env, field, member):
    default = getattr(Policy(), field)
    old = default if member is None else default[member]
    info = next(how for f, how in settable() if f.name == field)
    # A value other than the default, within the bounds (the cut-offs still rise; a word another valid one).
    new: float | str = (OTHER_WORDS[field] if isinstance(old, str) else old * 0.9 if isinstance(old, float)
                        else old + 1 if info.le is None or old + 1 <= info.le else old - 1)
    monkeypatch.setenv(env, str(new))
    got = getattr(Settings().policy, field)
    if member is None:
        assert got == new
    else:  # one member of a tuple: the others keep their defaults
        assert got == (*default[:member], new, *default[member + 1:])


def test_the_date_taken_as_today_is_set_by_landcycle_today(monkeypatch):
    monkeypatch.setenv("LANDCYCLE_TODAY", "2026-03-01")
    assert Settings().policy.today == date(2026, 3, 1)


@pytest.mark.parametrize(("env", "value"), [
    ("LANDCYCLE_RECTIFICATION_YEARS", "3"),  # rule 7: 1–2 years
    ("LANDCYCLE_EVALUATION_INTERVAL_DEFAULT", "2"),  # rule 5: every 3–5 years
    ("LANDCYCLE_TERM_YEARS_DEFAULT", "51"),  # rule 5: terms of 1–50 years
    ("LANDCYCLE_PEER_MIN_CONTRACTS", "0"),
    ("LANDCYCLE_BOTTOM_LINE_FLOOR_TAX_PER_MU", "-1"),
    ("LANDCYCLE_EFFICIENCY_CUTOFF_C", "1.0"),
    ("LANDCYCLE_EFFICIENCY_RATIO_CAP", "0"),
])
def test_a_rule_number_out_of_its_bounds_is_refused(monkeypatch, env, value):
    monkeypatch.setenv(env, value)
    with pytest.raises(ValidationError, match=env.removeprefix("LANDCYCLE_").lower()):
        Settings()


def test_efficiency_cutoffs_must_rise(monkeypatch):
    monkeypatch.setenv("LANDCYCLE_EFFICIENCY_CUTOFF_A", "0.7")
    with pytest.raises(ValidationError, match="cut-offs must rise"):
        Settings()
