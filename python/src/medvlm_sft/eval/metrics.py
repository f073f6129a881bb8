"""MedVision task metrics for generated answers (reference notes section 3).

Per answer, with k = 1 (angle/distance), 2 (tumor/lesion major and minor axis) or 4
(detection box [x1, y1, x2, y2]) numbers read by `parse.last_k_numbers`:
- success: the answer holds at least k numbers (the last k are used, as in the reference);
- AE_i = |p_i - t_i|, MAE = mean_i AE_i;
- A/D and T/L: MRE = mean_i AE_i / (t_i + 1e-15);
- detection: IoU of the two boxes, the predicted corners sorted first (the reference does not
  sort them, so a box named upper-right first scored 0); MAE over the four coordinates.

Aggregates (the flat fields of an eval `metrics` event, with `eval_` stripped):
    ad_mae, ad_mre, ad_success_rate     angle/distance (mm or degrees)
    tl_mae, tl_mre, tl_success_rate     tumor/lesion axes (mm)
    det_iou, det_mae, det_success_rate  detection (normalised coordinates)
    mre                                 MRE over all A/D and T/L answers that succeeded
    success_rate                        successes / scored answers, all task kinds
    gen_samples                         answers scored
MAE, MRE and IoU are means over successful answers (as `parse_outputs.py` computes them);
a kind with no success has no such field rather than a NaN. Success rates count failures
as misses. Generic records (free-text answers) are not scored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from medvlm_sft.eval.parse import last_k_numbers, parse_numbers, sorted_box

NUMBERS_PER_KIND = {"angle_distance": 1, "tumor_lesion": 2, "detection": 4}
PREFIX = {"angle_distance": "ad", "tumor_lesion": "tl", "detection": "det"}
EPS = 1e-15


@dataclass(frozen=True)
class Score:
    kind: str
    success: bool
    mae: float | None = None
    mre: float | None = None
    iou: float | None = None


def box_iou(pred: Iterable[float], target: Iterable[float]) -> float:
    px1, py1, px2, py2 = sorted_box(list(pred))
    tx1, ty1, tx2, ty2 = sorted_box(list(target))
    width = min(px2, tx2) - max(px1, tx1)
    height = min(py2, ty2) - max(py1, ty1)
    inter = width * height if width > 0 and height > 0 else 0.0
    union = (px2 - px1) * (py2 - py1) + (tx2 - tx1) * (ty2 - ty1) - inter
    return inter / union if union > 0 else 0.0


def score_answer(kind: str, answer: str, target: str) -> Score | None:
    """Score one generated answer against its target text; None for kinds without numeric metrics."""
    k = NUMBERS_PER_KIND.get(kind)
    if k is None:
        return None
    truth = parse_numbers(target)
    if len(truth) != k:
        raise ValueError(f"a {kind} target must hold {k} number(s), got {target!r}")
    pred = last_k_numbers(answer, k)
    if pred is None:
        return Score(kind, False)
    if kind == "detection":
        box = list(sorted_box(pred))
        mae = sum(abs(p - t) for p, t in zip(box, truth, strict=True)) / k
        return Score(kind, True, mae=mae, iou=box_iou(box, truth))
    errors = [abs(p - t) for p, t in zip(pred, truth, strict=True)]
    mre = sum(e / (t + EPS) for e, t in zip(errors, truth, strict=True)) / k
    return Score(kind, True, mae=sum(errors) / k, mre=mre)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def aggregate(scores: Iterable[Score | None]) -> dict[str, float]:
    scored = [s for s in scores if s is not None]
    out: dict[str, float] = {}
    if not scored:
        return out
    for kind, prefix in PREFIX.items():
        mine = [s for s in scored if s.kind == kind]
        if not mine:
            continue
        ok = [s for s in mine if s.success]
        out[f"{prefix}_success_rate"] = len(ok) / len(mine)
        if not ok:
            continue
        out[f"{prefix}_mae"] = _mean([s.mae for s in ok if s.mae is not None])
        if kind == "detection":
            out[f"{prefix}_iou"] = _mean([s.iou for s in ok if s.iou is not None])
        else:
            out[f"{prefix}_mre"] = _mean([s.mre for s in ok if s.mre is not None])
    relative = [s.mre for s in scored if s.success and s.mre is not None]
    if relative:
        out["mre"] = _mean(relative)
    out["success_rate"] = sum(s.success for s in scored) / len(scored)
    out["gen_samples"] = len(scored)
    return out
