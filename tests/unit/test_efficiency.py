import pytest

from app.policy import Policy
from app.reports.efficiency import classes, component, green_ratio, score

CUTS = (0.20, 0.60, 0.95)


def test_classes_follow_rank_shares_of_the_spec():
    scores = [float(100 - i) for i in range(20)]  # 20 distinct scores, best first
    assert classes(scores, CUTS) == ["A"] * 4 + ["B"] * 8 + ["C"] * 7 + ["D"]


def test_equal_scores_share_the_better_class():
    assert classes([50.0] * 10, CUTS) == ["A"] * 10
    assert classes([9.0, 8.0, 8.0, 8.0, 1.0], CUTS) == ["A", "B", "B", "B", "C"]


def test_classes_keep_input_order():
    assert classes([1.0, 3.0, 2.0], CUTS) == ["C", "A", "B"]


def test_configured_cut_offs():
    assert classes([float(i) for i in range(10)], (0.5, 0.6, 0.7)) == list("DDDCBAAAAA")


def test_score_weights_tax_output_green():
    policy = Policy()
    # Everything exactly at the bottom line / target: each component 1/cap = 0.5.
    assert score(1.0, 1.0, 1.0, policy) == 50.0
    # Only tax doubled: 45 % of the weight at full marks.
    assert score(2.0, 1.0, 1.0, policy) == pytest.approx(100 * (45 * 1 + 35 * 0.5 + 20 * 0.5) / 100)
    assert score(1.0, 1.0, 1.0, Policy(efficiency_weight_tax=0, efficiency_weight_output=0,
                                       efficiency_weight_green=0)) == 0.0


def test_components_are_capped_and_never_negative():
    assert component(5.0, 2.0) == 1.0
    assert component(-1.0, 2.0) == 0.0
    assert component(None, 2.0) == 1.0


def test_green_ratio_is_target_over_measured_averaged():
    assert green_ratio([(0.2, 0.1), (10.0, 20.0)]) == pytest.approx((2.0 + 0.5) / 2)
    assert green_ratio([]) == 1.0
    assert green_ratio([(None, 0.1)]) == 1.0
