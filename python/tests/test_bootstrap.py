"""`bootstrap.py --existing`: the editor asks for a ready environment without creating one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BOOTSTRAP = Path(__file__).resolve().parents[1] / "bootstrap.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BOOTSTRAP), *args], capture_output=True, text=True, check=False)


def test_existing_reports_a_complete_environment_and_never_creates_one(tmp_path: Path) -> None:
    envs = tmp_path / "envs"
    missing = _run("--envs-dir", str(envs), "--existing")
    assert missing.returncode == 3
    assert missing.stdout == ""
    assert not envs.exists(), "--existing must not create anything"

    key = _run("--print-key").stdout.strip()
    env_dir = envs / key
    (env_dir / "bin").mkdir(parents=True)
    unfinished = _run("--envs-dir", str(envs), "--existing")
    assert unfinished.returncode == 3, "an environment without its completion marker is not ready"

    (env_dir / ".medvlm-env-complete").write_text("{}")
    ready = _run("--envs-dir", str(envs), "--existing")
    assert ready.returncode == 0
    assert ready.stdout.strip() == str(env_dir / "bin" / "python")
