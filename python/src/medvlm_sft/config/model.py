"""The run config: the single source of truth for `*.sft.yaml` files (design contract 1).

Every field carries a description; `medvlm-sft schema` turns this module into
`media/run-config.schema.json`, which drives the editor's diagnostics, hovers and form.
Cross-field rules live in `rules.py` so that their messages can point at YAML paths.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from medvlm_sft.config.launch import LaunchSection
from medvlm_sft.config.section import Section

ModelFamily = Literal["auto", "qwen2_5_vl", "medgemma", "generic"]


class ModelSection(Section):
    base: str = Field(
        description=(
            "Base model: a Hugging Face Hub id (e.g. `google/medgemma-4b-it`) or a local folder with "
            "config.json (relative paths resolve against the config file's folder)."
        ),
        min_length=1,
        max_length=4096,
    )
    family: ModelFamily = Field(
        "auto",
        description=(
            "Model family, which decides the chat format, loss masking and the image resize used in the "
            "pixel-size prompt line (Qwen2.5-VL: smart_resize with factor 28; MedGemma: 896x896). `generic` "
            "trains any AutoModelForImageTextToText whose AutoProcessor has a chat template: the loss covers the "
            "answer and the end-of-turn tokens the template writes after it, and the pixel-size line uses the "
            "image processor's fixed `size` {height, width} when it has one, else the slice's own size (right "
            "for processors that keep the size, approximate for shortest-edge or tiling resizes). `auto` reads "
            "`model_type` from the model's config.json and uses `generic`, with a warning, for other types."
        ),
    )
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto",
        description="Weights dtype when loading: `auto` uses bfloat16 on a GPU that supports it, else float32.",
    )
    attn_implementation: Literal["auto", "eager", "sdpa", "flash_attention_2"] = Field(
        "auto",
        description=(
            "Attention kernel. `auto` picks eager for MedGemma (as Hugging Face recommends for Gemma 3) and "
            "sdpa otherwise. flash_attention_2 needs the flash-attn package and an Ampere or newer GPU."
        ),
    )
    quantization: Literal["none", "4bit"] = Field(
        "none",
        description="`4bit` loads the base model in NF4 with double quantisation (QLoRA); needs CUDA and bitsandbytes.",
    )
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in the backward pass to save GPU memory at about 30% more time."
    )
    max_length: int | None = Field(
        None,
        ge=16,
        le=131072,
        description="Truncate tokenised samples to this many tokens (image tokens included); null keeps them whole.",
    )


class DataSource(Section):
    """One records file with its task metadata and its own train and validation limits."""

    name: str | None = Field(
        None,
        max_length=200,
        description="A short name for this source, shown in the run panel; defaults to the records file's name.",
    )
    records: str = Field(
        description=(
            "Records file (.jsonl, .json or .parquet) in MedVision or generic format; relative paths resolve "
            "against the config file's folder."
        ),
        min_length=1,
        max_length=4096,
    )
    tasks: str | None = Field(
        None,
        max_length=4096,
        description=(
            "Task metadata file (tasks.json) with image descriptions, label and landmark maps. Required for "
            "MedVision records; generic records carry their own messages."
        ),
    )
    train_limit: int = Field(
        -1,
        ge=-1,
        description="At most this many training samples from this source; -1 (or a number above its size) uses all.",
    )
    val_limit: int = Field(
        0,
        ge=0,
        description=(
            "Validation samples held out from this source before its training limit applies; 0 holds out none."
        ),
    )


WindowPreset = Literal["ct_soft_tissue", "ct_bone", "mr"]


class ImageWindow(Section):
    """An intensity window in the volume's stored units (after the NIfTI scaling)."""

    center: float = Field(
        description="Window centre (level), e.g. 40 for soft tissue in Hounsfield units.",
        ge=-1e9,
        le=1e9,
    )
    width: float = Field(
        description="Window width: values below centre - width/2 are black, above centre + width/2 white.",
        gt=0,
        le=1e9,
    )


class ImageSection(Section):
    """How a NIfTI slice becomes the 8-bit image the model sees."""

    normalization: Literal["minmax", "window"] = Field(
        "minmax",
        description=(
            "`minmax` (default) stretches each slice's own minimum..maximum to 0..255 with truncation, exactly "
            "as the MedVision reference does. `window` clips to `window` first: a CT window in Hounsfield units "
            "or, for MR, the slice's 1st..99th percentiles. Pictures (PNG, JPEG) are used as stored."
        ),
    )
    window: ImageWindow | WindowPreset | None = Field(
        None,
        description=(
            "The window for `normalization: window`: `{center, width}`, or a preset: `ct_soft_tissue` "
            "(centre 40, width 400), `ct_bone` (centre 400, width 1800), `mr` (per-slice 1st..99th percentile)."
        ),
    )


class DataSection(Section):
    sources: list[DataSource] = Field(
        min_length=1,
        max_length=256,
        description="Data sources; each is split into train and validation with its own limits.",
    )
    train_limit: int = Field(
        -1, ge=-1, description="Total training samples after the per-source limits; -1 or a larger number uses all."
    )
    val_limit: int = Field(
        -1, ge=-1, description="Total validation samples after the per-source limits; -1 or a larger number uses all."
    )
    seed: int = Field(1024, ge=0, description="Seed of the train/validation split and of sample selection.")
    group_by_volume: bool = Field(
        True,
        description=("Split by volume (`image_file`) so slices of one patient never sit in both train and validation."),
    )
    image: ImageSection = Field(
        default_factory=ImageSection,
        description="How NIfTI slices become 8-bit images: the reference's per-slice min-max, or a CT/MR window.",
    )
    detection_prompt: Literal["reference", "benchmark"] = Field(
        "reference",
        description=(
            'Detection format requirement: `reference` is the MedVision SFT text ("Return the coordinates as '
            '[x1, y1, x2, y2] ..."); `benchmark` is the MedVision benchmark\'s own ("The answer should be four '
            'decimal numbers separated by commas ..."), so the model is trained on the prompt it is scored on.'
        ),
    )
    box_convention: Literal["reference", "pixel_edge"] = Field(
        "reference",
        description=(
            "Detection targets: `reference` uses the inclusive max_coords as-is (x2 = c1/W, y1 = (H - r1)/H), "
            "which shrinks every box by one pixel on the right and bottom; `pixel_edge` uses the far edge of the "
            "last pixel (x2 = (c1 + 1)/W, y1 = (H - r1 - 1)/H)."
        ),
    )
    skip_bad_records: bool = Field(
        False,
        description=(
            "Skip records that cannot be used (missing or corrupt NIfTI, slice out of range, no task kind, task "
            "metadata missing, box outside the image) and log how many were skipped and why. By default they "
            "are all listed in one error before any model is loaded. Records found bad after the split (their "
            "volume is checked only when selected) are dropped, not replaced."
        ),
    )
    cache_dir: str | None = Field(
        None,
        max_length=4096,
        description=(
            "Where decoded slices (`slices/`, one .npy file per distinct slice and image setting, shared by runs) and "
            "prepared datasets (`prepared/`, one index per combination of settings) are cached; defaults to a "
            "`.medvlm-cache` folder beside the config. Relative paths resolve against the config's folder. Safe "
            "to delete; safe to share between concurrent runs."
        ),
    )
    num_workers: int = Field(
        0,
        ge=0,
        le=256,
        description=(
            "Worker processes that decode NIfTI volumes during data preparation (each volume is decoded once); "
            "0 uses the number of CPU cores, at most 8."
        ),
    )


class TrainSection(Section):
    epochs: float = Field(1.0, gt=0, le=10000, description="Passes over the training set.")
    max_steps: int = Field(
        -1, ge=-1, description="Stop after this many optimizer steps; -1 derives the steps from `epochs`."
    )
    per_device_batch_size: int = Field(1, ge=1, le=4096, description="Samples per GPU (or CPU) per forward pass.")
    gradient_accumulation_steps: int = Field(
        1, ge=1, le=4096, description="Forward passes whose gradients are summed before each optimizer step."
    )
    learning_rate: float = Field(
        2e-4, gt=0, le=1.0, description="Peak learning rate (the MedVision reference uses 2e-4)."
    )
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field(
        "linear", description="Learning-rate schedule after warm-up."
    )
    warmup_ratio: float = Field(
        0.03, ge=0, le=1, description="Fraction of the steps spent warming up the learning rate."
    )
    weight_decay: float = Field(0.0, ge=0, le=1, description="AdamW weight decay.")
    max_grad_norm: float = Field(0.3, gt=0, description="Gradient clipping norm.")
    optimizer: Literal["adamw_torch", "adamw_torch_fused", "adamw_8bit", "paged_adamw_8bit"] = Field(
        "adamw_torch", description="Optimizer; `adamw_torch_fused` needs CUDA, the 8-bit ones need bitsandbytes."
    )
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto", description="Mixed precision: `auto` uses bf16 where the GPU supports it and fp32 on CPU."
    )
    seed: int = Field(42, ge=0, description="Seed for model initialisation of LoRA weights and data order.")
    dataloader_num_workers: int = Field(0, ge=0, le=64, description="Worker processes feeding batches to the model.")
    dataloader_pin_memory: bool = Field(
        True, description="Pin batches in page-locked memory for faster copies to the GPU (the reference does)."
    )
    use_cpu: bool = Field(False, description="Train on the CPU even when a GPU is present (for tests and demos).")
    loss_on: Literal["completion", "all"] = Field(
        "completion",
        description=(
            "`completion` computes the loss on the assistant's answer and its end-of-turn token only; `all` also "
            "trains on the prompt, as the MedVision reference does."
        ),
    )


class LoraSection(Section):
    enabled: bool = Field(True, description="Train LoRA adapters; false fine-tunes every weight.")
    r: int = Field(16, ge=1, le=1024, description="LoRA rank.")
    alpha: int = Field(16, ge=1, le=4096, description="LoRA scaling numerator (scale = alpha / r).")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA path.")
    target_modules: str | list[str] = Field(
        "all-linear",
        description="Modules that get adapters: `all-linear` or a list of module-name suffixes such as `q_proj`.",
    )
    include_vision_tower: bool = Field(
        True,
        description="Also adapt the vision encoder's linear layers (the reference does, through all-linear).",
    )
    modules_to_save: list[str] = Field(
        default_factory=list,
        description=(
            "Modules trained in full and saved with the adapter. The reference saves lm_head and embed_tokens, "
            "which adds about 1.5B parameters without any new tokens; leave empty unless you add tokens."
        ),
    )


class EvalSection(Section):
    strategy: Literal["no", "steps", "epoch"] = Field(
        "steps", description="When to evaluate (loss and generation metrics): every `steps`, each epoch, or never."
    )
    steps: int = Field(50, ge=1, description="Optimizer steps between evaluations when `strategy` is `steps`.")
    per_device_batch_size: int = Field(
        1, ge=1, le=4096, description="Samples per device per evaluation pass (and per generation batch)."
    )
    generation_samples: int = Field(
        32,
        ge=0,
        le=100000,
        description=(
            "At each evaluation, answer this many validation samples greedily (spread over the task kinds) and "
            "report the MedVision metrics: MAE and MRE for angle/distance and tumor/lesion, IoU for detection, "
            "and success rates. 0 evaluates the loss only, as the reference does."
        ),
    )
    max_new_tokens: int = Field(
        64,
        ge=1,
        le=8192,
        description="Longest generated answer, in tokens (MedVision answers take about 5 to 30).",
    )


class CheckpointsSection(Section):
    save_steps: int = Field(50, ge=1, description="Optimizer steps between checkpoints.")
    save_total_limit: int | None = Field(
        10, ge=1, description="Keep at most this many checkpoints (the oldest are deleted); null keeps all."
    )
    resume_from: str | None = Field(
        None,
        max_length=4096,
        description=(
            "`latest` resumes from the newest complete checkpoint in the run folder (starting fresh when there is "
            "none), or give a checkpoint folder. The number of steps is recomputed from the current epochs and "
            "data, so a resumed run can train longer or on more data."
        ),
    )


class WandbSection(Section):
    project: str | None = Field(None, max_length=128, description="W&B project; defaults to `medvlm`.")
    entity: str | None = Field(None, max_length=128, description="W&B team or user.")
    run_name: str | None = Field(None, max_length=256, description="W&B run name; defaults to the run id.")
    mode: Literal["online", "offline"] = Field("online", description="`offline` writes W&B files without uploading.")


class LoggingSection(Section):
    steps: int = Field(10, ge=1, description="Optimizer steps between training-loss points.")
    report_to: list[Literal["wandb", "tensorboard"]] = Field(
        default_factory=list,
        description="Extra trackers. The run's events.jsonl (and so the run panel) is always written.",
    )
    wandb: WandbSection = Field(default_factory=WandbSection, description="Weights & Biases settings.")


class HubSection(Section):
    repo_id: str | None = Field(
        None,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Hub repository `owner/name` for pushes from the trainer.",
    )
    private: bool = Field(True, description="Create the repository as private.")
    push_adapter: bool = Field(False, description="Push the LoRA adapter at the end of training.")
    push_adapter_every_save: bool = Field(
        False,
        description=(
            "Also push each checkpoint's adapter to `repo_id` right after it is saved, from a background thread "
            "so training does not wait (one commit per checkpoint; when saves come faster than uploads, only the "
            "newest is pushed). A failed push is logged as an error and training goes on. The token comes from "
            "HF_TOKEN or your Hugging Face login, the endpoint from HF_ENDPOINT. Combine with `push_adapter` to "
            "push the final adapter too."
        ),
    )
    merge_after_training: bool = Field(
        False, description="Merge the adapter into the base weights at the end of training (into `merged/`)."
    )
    push_merged: bool = Field(False, description="Push the merged model at the end (needs `merge_after_training`).")


class RunConfig(Section):
    """A supervised fine-tuning run of a vision-language model on medical images."""

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False, title="MedVLM SFT run config"
    )

    model: ModelSection = Field(description="The base model and how it is loaded.")
    data: DataSection = Field(description="Data sources and how they are split and limited.")
    train: TrainSection = Field(default_factory=TrainSection, description="Optimisation settings.")
    lora: LoraSection = Field(default_factory=LoraSection, description="LoRA adapter settings.")
    eval: EvalSection = Field(default_factory=EvalSection, description="Validation during training.")
    checkpoints: CheckpointsSection = Field(
        default_factory=CheckpointsSection, description="Checkpoint saving and resuming."
    )
    logging: LoggingSection = Field(default_factory=LoggingSection, description="Loss logging and trackers.")
    hub: HubSection = Field(default_factory=HubSection, description="Hugging Face Hub pushes from the trainer.")
    launch: LaunchSection = Field(default_factory=LaunchSection, description="Where and on how many GPUs to run.")
