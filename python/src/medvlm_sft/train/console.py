"""Human-readable trainer output (the launcher keeps stdout in stdout.log)."""

from __future__ import annotations


def say(message: str) -> None:
    """A human-readable line on stdout (the launcher keeps stdout in stdout.log)."""
    print(f"[medvlm-sft] {message}", flush=True)
