"""`bootstrap.py --existing`: the editor asks for a ready environment without creating one."""

from __future__ import annotations

import os
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


# uv is not in this machine's offline package mirror, so these tests put a stand-in named `uv`
# on the PATH: it records its arguments and does what the real uv's `venv` and `pip install`
# do, through venv and pip. The requirement files hold no package, so nothing is downloaded.
UV_STANDIN = """#!{python}
import os, subprocess, sys
with open(os.environ["UV_STANDIN_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
    log.write("UV_INDEX_URL=" + os.environ.get("UV_INDEX_URL", "") + "\\n")
if os.environ.get("UV_STANDIN_FAIL"):
    sys.exit("error: the stand-in uv was told to fail")
args = sys.argv[1:]
if args[:1] == ["venv"]:
    sys.exit(subprocess.call([args[args.index("--python") + 1], "-m", "venv", args[-1]]))
if args[:2] == ["pip", "install"]:
    python = args[args.index("--python") + 1]
    rest = [a for i, a in enumerate(args[2:]) if a != "--python" and args[2:][i - 1] != "--python"]
    sys.exit(subprocess.call([python, "-m", "pip", "install", "--no-index", *rest]))
sys.exit("error: unexpected arguments")
"""


def _load_bootstrap():
    import importlib.util

    spec = importlib.util.spec_from_file_location("medvlm_bootstrap", BOOTSTRAP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _standin(tmp_path: Path, monkeypatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    uv = bin_dir / "uv"
    uv.write_text(UV_STANDIN.format(python=sys.executable))
    uv.chmod(0o755)
    log = tmp_path / "uv.log"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("UV_STANDIN_LOG", str(log))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.delenv("UV_INDEX_URL", raising=False)
    monkeypatch.delenv("MEDVLM_NO_UV", raising=False)
    reqs = tmp_path / "reqs"
    reqs.mkdir()
    for name in ("requirements.txt", "requirements-dev.txt", "requirements-torch.txt"):
        (reqs / name).write_text("# nothing to install\n")
    return log


def test_uv_builds_the_environment_when_it_is_on_the_path(tmp_path: Path, monkeypatch) -> None:
    log = _standin(tmp_path, monkeypatch)
    bootstrap = _load_bootstrap()
    env_dir = tmp_path / "envs" / "key"
    bootstrap.build(env_dir, tmp_path / "reqs", online=True)
    calls = log.read_text().splitlines()
    assert calls[0] == f"venv --python {sys.executable} {env_dir}"
    assert calls[1] == "UV_INDEX_URL=http://127.0.0.1:9/simple", "pip's index reaches uv"
    assert calls[2].startswith(f"pip install --python {env_dir / 'bin' / 'python'} -r ")
    assert calls[2].count(" -r ") == 3
    assert (env_dir / "bin" / "python").exists()


def test_a_failing_uv_falls_back_to_venv_and_pip_and_no_uv_turns_it_off(tmp_path: Path, monkeypatch) -> None:
    log = _standin(tmp_path, monkeypatch)
    bootstrap = _load_bootstrap()
    monkeypatch.setenv("UV_STANDIN_FAIL", "1")
    env_dir = tmp_path / "envs" / "failed-uv"
    bootstrap.build(env_dir, tmp_path / "reqs", online=True)
    assert log.read_text().splitlines()[0].startswith("venv "), "uv was tried first"
    assert (env_dir / "bin" / "python").exists(), "venv + pip made it after uv failed"

    log.unlink()
    monkeypatch.setenv("MEDVLM_NO_UV", "1")
    bootstrap.build(tmp_path / "envs" / "no-uv", tmp_path / "reqs", online=True)
    assert not log.exists(), "MEDVLM_NO_UV keeps uv out"
    # Offline (a local wheel mirror), pip's recipe is the one that works: uv is not asked.
    monkeypatch.delenv("MEDVLM_NO_UV")
    monkeypatch.setattr(
        bootstrap,
        "torch_runtime_requirements",
        lambda python, env: ["--no-index", "-r", str(tmp_path / "reqs" / "requirements.txt")],
    )
    bootstrap.build(tmp_path / "envs" / "offline", tmp_path / "reqs", online=False)
    assert not log.exists()
