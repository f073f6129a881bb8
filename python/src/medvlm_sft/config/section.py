"""The base of every run config section (model.py, launch.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    # Strict, as JSON schema is: the editor checks the generated schema as you type, so a quoted
    # "5", a 2.0 or a "true" must be rejected here too, not silently coerced; and JSON has no
    # infinities or NaN, so `.inf` and `.nan` are not numbers here either.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False)
