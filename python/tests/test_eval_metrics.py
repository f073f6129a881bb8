"""Answer parsing and MedVision task metrics, against values computed by hand (reference notes section 3)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from medvlm_sft.eval.generation import pick_subset
from medvlm_sft.eval.metrics import aggregate, box_iou, score_answer
from medvlm_sft.eval.parse import last_k_numbers, parse_numbers, sorted_box


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("76.4375", [76.4375]),
        (".5", [0.5]),  # the reference regex reads 5
        ("1e-3", [0.001]),  # the reference reads 1 and -3
        ("-2.5E+02 and +4", [-250.0, 4.0]),
        ("The distance is 12.5 mm.", [12.5]),
        ("5.", [5.0]),
        ("38.100, 21.400", [38.1, 21.4]),
        ("[x1, y1, x2, y2] = [0.1, 0.2, .3, 0.4]", [0.1, 0.2, 0.3, 0.4]),  # no digits out of x1, y1, ...
        ("T2 lesion, axis 3-4 mm", [3.0, 4.0]),
        ("version v1.2", []),
        ("1e999 is not a number", []),
        ("no numbers here", []),
    ],
)
def test_parse_numbers(text: str, numbers: list[float]) -> None:
    assert parse_numbers(text) == pytest.approx(numbers)


def test_last_k_numbers_takes_the_last_k_or_fails() -> None:
    assert last_k_numbers("38.1, 21.4", 2) == [38.1, 21.4]
    assert last_k_numbers("step 1: 40; answer: 38.1, 21.4", 2) == [38.1, 21.4]
    assert last_k_numbers("only 12", 2) is None
    assert last_k_numbers("", 1) is None
    with pytest.raises(ValueError, match="k must be at least 1"):
        last_k_numbers("1", 0)


def test_box_corners_are_sorted() -> None:
    assert sorted_box([0.5, 0.6, 0.1, 0.2]) == (0.1, 0.2, 0.5, 0.6)
    assert sorted_box([0.1, 0.6, 0.5, 0.2]) == (0.1, 0.2, 0.5, 0.6)


def test_iou_by_hand() -> None:
    target = [0.1, 0.2, 0.5, 0.6]  # 0.4 x 0.4, area 0.16
    assert box_iou(target, target) == pytest.approx(1.0)
    # Shifted by (0.2, 0.2): intersection 0.2 x 0.2 = 0.04, union 0.16 + 0.16 - 0.04 = 0.28.
    assert box_iou([0.3, 0.4, 0.7, 0.8], target) == pytest.approx(0.04 / 0.28)
    assert box_iou([0.6, 0.7, 0.9, 0.9], target) == 0.0  # disjoint
    assert box_iou([0.5, 0.6, 0.9, 0.9], target) == 0.0  # touching corners
    assert box_iou([0.2, 0.2, 0.2, 0.2], [0.2, 0.2, 0.2, 0.2]) == 0.0  # no area at all


def test_angle_distance_score() -> None:
    score = score_answer("angle_distance", "The distance is 76 mm", "76.4375")
    # AE = 0.4375 = 7/16, t = 76.4375 = 1223/16, so MRE = 7/1223.
    assert score.success and score.mae == pytest.approx(0.4375) and score.mre == pytest.approx(7 / 1223)
    assert not score_answer("angle_distance", "I cannot tell", "76.4375").success


def test_tumor_lesion_score() -> None:
    score = score_answer("tumor_lesion", "40, 20", "38.100, 21.400")
    # AE = 1.9 and 1.4: MAE 1.65, MRE = (1.9 / 38.1 + 1.4 / 21.4) / 2.
    assert score.mae == pytest.approx(1.65)
    assert score.mre == pytest.approx((1.9 / 38.1 + 1.4 / 21.4) / 2)
    assert not score_answer("tumor_lesion", "40", "38.100, 21.400").success


def test_detection_score_sorts_the_predicted_corners() -> None:
    target = "0.100, 0.200, 0.500, 0.600"
    swapped = score_answer("detection", "0.5, 0.6, 0.1, 0.2", target)  # upper-right corner first
    assert swapped.success and swapped.iou == pytest.approx(1.0) and swapped.mae == pytest.approx(0.0)
    shifted = score_answer("detection", "[0.3, 0.4, 0.7, 0.8]", target)
    assert shifted.iou == pytest.approx(1 / 7) and shifted.mae == pytest.approx(0.2)
    assert not score_answer("detection", "0.1, 0.2, 0.5", target).success


def test_generic_answers_are_not_scored_and_bad_targets_are_errors() -> None:
    assert score_answer("generic", "A kidney.", "A kidney.") is None
    with pytest.raises(ValueError, match="must hold 2 number"):
        score_answer("tumor_lesion", "1, 2", "12.5")


def test_aggregate_by_hand() -> None:
    scores = [
        score_answer("angle_distance", "76", "76.4375"),  # AE 0.4375, MRE 7/1223
        score_answer("angle_distance", "no idea", "10.0"),  # failure
        score_answer("tumor_lesion", "40, 20", "38.100, 21.400"),  # MAE 1.65
        score_answer("detection", "0.5, 0.6, 0.1, 0.2", "0.100, 0.200, 0.500, 0.600"),  # IoU 1
        score_answer("detection", "0.3, 0.4, 0.7, 0.8", "0.100, 0.200, 0.500, 0.600"),  # IoU 1/7, MAE 0.2
        score_answer("generic", "text", "text"),  # not scored
    ]
    tl_mre = (1.9 / 38.1 + 1.4 / 21.4) / 2
    assert aggregate(scores) == pytest.approx(
        {
            "ad_success_rate": 0.5,
            "ad_mae": 0.4375,
            "ad_mre": 7 / 1223,
            "tl_success_rate": 1.0,
            "tl_mae": 1.65,
            "tl_mre": tl_mre,
            "det_success_rate": 1.0,
            "det_mae": 0.1,
            "det_iou": (1 + 1 / 7) / 2,
            "mre": (7 / 1223 + tl_mre) / 2,
            "success_rate": 4 / 5,
            "gen_samples": 5,
        }
    )


def test_a_kind_without_success_has_only_its_success_rate() -> None:
    assert aggregate([score_answer("detection", "none", "0.1, 0.2, 0.3, 0.4")]) == {
        "det_success_rate": 0.0,
        "success_rate": 0.0,
        "gen_samples": 1,
    }
    assert aggregate([score_answer("generic", "a", "b")]) == {}


def test_subset_takes_every_kind_in_turn() -> None:
    samples = [SimpleNamespace(kind=k, n=i) for i, k in enumerate(["ad", "ad", "ad", "det", "tl", "tl"])]
    assert [s.n for s in pick_subset(samples, 4)] == [0, 3, 4, 1]
    assert [s.n for s in pick_subset(samples, 100)] == [0, 3, 4, 1, 5, 2]
    assert pick_subset(samples, 0) == []
