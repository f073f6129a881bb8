"""MedVLM Studio's trainer: supervised fine-tuning of vision-language models on medical images."""

__version__ = "0.1.0"
