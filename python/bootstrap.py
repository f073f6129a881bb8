#!/usr/bin/env python3
"""Create or reuse the trainer's Python environment. Standard library only.

Every place that needs the trainer's environment uses this one script: CI, `npm start`,
the extension's managed environment and remote hosts (design contract 6). Environments
live in ENVS_DIR/<key>, where the key hashes the pinned requirement files and the Python
version, so an environment is reused until the requirements change. The trainer package
itself is not installed: callers put `python/src` on PYTHONPATH, so a new trainer version
never needs a new environment. With `uv` on the PATH and the public index reachable, uv
builds it (several times faster); otherwise, or when uv fails, or with MEDVLM_NO_UV set,
venv + pip do.

Prints progress lines prefixed with "bootstrap:" on stderr and, on success, the path of
the environment's interpreter as the last line on stdout.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIREMENT_FILES = ("requirements.txt", "requirements-dev.txt", "requirements-torch.txt")
# torch's CUDA wheel lists cuda-bindings, which offline mirrors may lack; importing torch
# does not need it.
OPTIONAL_TORCH_DEPS = {"cuda-bindings"}
MARKER = ".medvlm-env-complete"


def log(message: str) -> None:
    print(f"bootstrap: {message}", file=sys.stderr, flush=True)


def env_key(req_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in REQUIREMENT_FILES:
        digest.update(name.encode())
        digest.update((req_dir / name).read_bytes())
    digest.update(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    digest.update(sys.platform.encode())
    return digest.hexdigest()[:16]


def default_envs_dir() -> Path:
    configured = os.environ.get("MEDVLM_ENVS_DIR")
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "medvlm-studio" / "envs"


def interpreter(env_dir: Path) -> Path:
    if os.name == "nt":
        return env_dir / "Scripts" / "python.exe"
    return env_dir / "bin" / "python"


def public_index_reachable(timeout: float = 3.0) -> bool:
    """True when pip's main index answers a TCP connect.

    Machines with only a local wheel mirror make pip retry the unreachable index for every
    package and cannot resolve torch's CUDA dependencies; those get the offline recipe.
    """
    mode = os.environ.get("MEDVLM_PIP_MODE", "").lower()
    if mode in {"online", "offline"}:
        return mode == "online"
    index = os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple"
    parsed = urllib.parse.urlparse(index)
    if parsed.scheme == "file":
        return False
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def run(cmd: list[str], env: dict[str, str]) -> None:
    log("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, env=env, stdout=sys.stderr, stderr=sys.stderr, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bootstrap: command failed with exit code {proc.returncode}: {' '.join(cmd)}")


def torch_runtime_requirements(python: Path, env: dict[str, str]) -> list[str]:
    """torch's own dependencies for this platform, read from its installed metadata."""
    script = (
        "import importlib.metadata as m\n"
        "from packaging.requirements import Requirement\n"
        "for raw in m.requires('torch') or []:\n"
        "    r = Requirement(raw)\n"
        "    if r.marker is None or r.marker.evaluate({'extra': ''}):\n"
        "        print(str(r).split(';')[0].strip())\n"
    )
    out = subprocess.run([str(python), "-c", script], env=env, capture_output=True, text=True, check=True)
    reqs = [line for line in out.stdout.splitlines() if line]
    return [r for r in reqs if not any(r.startswith(name) for name in OPTIONAL_TORCH_DEPS)]


def uv_env(env: dict[str, str]) -> dict[str, str]:
    """The environment for uv: pip's index settings carried over (uv reads only its own)."""
    out = dict(env)
    for pip_name, uv_name in (("PIP_INDEX_URL", "UV_INDEX_URL"), ("PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL")):
        if env.get(pip_name) and not env.get(uv_name):
            out[uv_name] = env[pip_name]
    return out


def build_with_uv(uv: str, env_dir: Path, req_dir: Path, env: dict[str, str]) -> None:
    """uv makes the same environment as venv + pip, several times faster."""
    env = uv_env(env)
    run([uv, "venv", "--python", sys.executable, str(env_dir)], env)
    reqs = [str(req_dir / name) for name in REQUIREMENT_FILES]
    run([uv, "pip", "install", "--python", str(interpreter(env_dir)), *[a for r in reqs for a in ("-r", r)]], env)


def build(env_dir: Path, req_dir: Path, online: bool) -> None:
    env = dict(os.environ)
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    uv = shutil.which("uv") if os.environ.get("MEDVLM_NO_UV", "") == "" else None
    if online and uv is not None:
        log(f"public package index reachable, uv at {uv}: uv install")
        try:
            build_with_uv(uv, env_dir, req_dir, env)
            return
        except SystemExit as failed:
            # uv reads neither pip.conf nor pip's other settings: a host that needs them still
            # gets its environment, from venv + pip.
            log(f"{failed}; building with venv + pip instead")
            shutil.rmtree(env_dir, ignore_errors=True)
    run([sys.executable, "-m", "venv", str(env_dir)], env)
    python = interpreter(env_dir)
    pip = [str(python), "-m", "pip", "install", "--progress-bar", "off"]
    base = ["-r", str(req_dir / "requirements.txt"), "-r", str(req_dir / "requirements-dev.txt")]
    torch_reqs = ["-r", str(req_dir / "requirements-torch.txt")]
    if online:
        log("public package index reachable: plain install")
        run(pip + base + torch_reqs, env)
        return
    # Offline wheel mirror (see shared notes/environment.md): retries against the missing
    # index stall every package; the CPU torch that the mirror resolves cannot import
    # torchvision. Install everything else, then the pinned torch pair without dependencies,
    # then torch's own runtime dependencies.
    log("public package index unreachable: offline mirror recipe")
    env["PIP_RETRIES"] = "0"
    run(pip + base, env)
    run([*pip, "--no-deps", "--force-reinstall", *torch_reqs], env)
    run(pip + torch_runtime_requirements(python, env), env)


def ensure(envs_dir: Path, req_dir: Path) -> Path:
    key = env_key(req_dir)
    env_dir = envs_dir / key
    envs_dir.mkdir(parents=True, exist_ok=True)
    if (env_dir / MARKER).exists():
        return interpreter(env_dir)
    lock_path = envs_dir / f"{key}.lock"
    with open(lock_path, "w") as lock:
        log(f"waiting for the environment lock {lock_path}")
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (env_dir / MARKER).exists():
            return interpreter(env_dir)
        if env_dir.exists():
            log(f"removing an unfinished environment at {env_dir}")
            shutil.rmtree(env_dir)
        log(f"creating the trainer environment {env_dir} (a few minutes, once per requirements change)")
        started = time.monotonic()
        try:
            build(env_dir, req_dir, public_index_reachable())
            check = [str(interpreter(env_dir)), "-c", "import torch, torchvision, transformers, trl, peft, nibabel"]
            run(check, dict(os.environ))
        except BaseException:
            shutil.rmtree(env_dir, ignore_errors=True)
            raise
        (env_dir / MARKER).write_text(
            json.dumps({"key": key, "created": time.time(), "seconds": round(time.monotonic() - started)})
        )
        log(f"environment ready in {time.monotonic() - started:.0f} s")
    return interpreter(env_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs-dir", type=Path, default=default_envs_dir(), help="where environments are kept")
    parser.add_argument("--requirements-dir", type=Path, default=HERE, help="folder with the requirement files")
    parser.add_argument("--print-key", action="store_true", help="print the environment key and exit")
    parser.add_argument(
        "--existing",
        action="store_true",
        help="print the interpreter of a complete environment and exit 0, or exit 3 without creating one",
    )
    args = parser.parse_args(argv)
    if args.print_key:
        print(env_key(args.requirements_dir))
        return 0
    if args.existing:
        env_dir = args.envs_dir / env_key(args.requirements_dir)
        if not (env_dir / MARKER).exists():
            return 3
        print(interpreter(env_dir))
        return 0
    print(ensure(args.envs_dir, args.requirements_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
