"""The run config's `launch` section: where a run trains and on how many processes (model.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from medvlm_sft.config.section import Section


class SlurmOverrides(Section):
    partition: str | None = Field(None, max_length=128, description="SLURM partition for this run.")
    nodes: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="Nodes for this run; with more than one, each node runs one `accelerate launch` with its GPUs.",
    )
    time: str | None = Field(None, max_length=32, description="Time limit, e.g. `24:00:00`.")
    account: str | None = Field(None, max_length=128, description="SLURM account.")
    extra_sbatch: list[str] = Field(default_factory=list, description="Extra `#SBATCH` lines for this run.")


class LaunchSection(Section):
    target: str = Field(
        "local",
        min_length=1,
        max_length=200,
        description="Where to run: `local`, or the name of a target defined in the MedVLM settings.",
    )
    num_processes: int = Field(
        1, ge=1, le=1024, description="Training processes (one per GPU); more than one uses `accelerate launch`."
    )
    gpus: list[Annotated[int, Field(ge=0, le=1023)]] | None = Field(
        None, description="GPU indices to use (sets CUDA_VISIBLE_DEVICES); null uses all visible GPUs."
    )
    slurm: SlurmOverrides = Field(default_factory=SlurmOverrides, description="Per-run SLURM overrides.")
