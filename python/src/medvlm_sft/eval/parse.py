"""Reading numbers out of a model's answer, as the MedVision scorer does, with its gaps fixed.

The reference (`parser_last_k_nums`, `extract_last_k_nums`) uses the regex `-?\\d+\\.?\\d*`,
which reads `.5` as 5 and `1e-3` as 1 and -3 (reference weak spot 14). Here a number may
start with a point, carry an exponent and a sign, and is not read out of a word such as
`x1` or `T2`, so a model that echoes the format line `[x1, y1, x2, y2]` is not credited
with the digits of the variable names.

Like the reference, the last k numbers of the answer are the prediction; fewer than k is a
failure.
"""

from __future__ import annotations

import math
import re

# A number not glued to a word or to a preceding point: -12, 3.5, .5, 5., 1e-3, +2.5E+02.
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def parse_numbers(text: str) -> list[float]:
    """Every number in `text`, in order; numbers too large for a float (inf) are dropped."""
    values = (float(m.group(0)) for m in NUMBER.finditer(text))
    return [v for v in values if math.isfinite(v)]


def last_k_numbers(text: str, k: int) -> list[float] | None:
    """The last `k` numbers of `text`, or None when it holds fewer (a failed answer)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    numbers = parse_numbers(text)
    if len(numbers) < k:
        return None
    return numbers[-k:]


def sorted_box(box: list[float]) -> tuple[float, float, float, float]:
    """[x1, y1, x2, y2] with x1 <= x2 and y1 <= y2, whichever two corners the model named."""
    x1, y1, x2, y2 = box
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)
