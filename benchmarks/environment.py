"""What the numbers depend on: machine, BLAS library and threads, versions, environment."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import threadpoolctl

import tinygrad_nn

__all__ = ["blas_summary", "collect", "environment_notes"]

#: environment variables that change BLAS or thread behaviour
_WATCHED = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "XLA_FLAGS",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _git_revision() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return None
    return f"{rev}{'+dirty' if dirty else ''}" if rev else None


def _versions(modules: dict[str, Any]) -> dict[str, str]:
    versions = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "tinygrad_nn": tinygrad_nn.__version__,
        "threadpoolctl": threadpoolctl.__version__,
    }
    for name, module in modules.items():
        if module is not None:
            versions[name] = getattr(module, "__version__", "?")
    return versions


def environment_notes() -> dict[str, str]:
    """The watched environment variables that are set."""
    return {k: os.environ[k] for k in _WATCHED if k in os.environ}


def collect(modules: dict[str, Any], threads: int) -> dict[str, Any]:
    """Everything about the run's conditions, JSON-able. Call inside the thread limits."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "machine": {
            "platform": platform.platform(),
            "cpu": _cpu_model(),
            "cpus_usable": _usable_cpus(),
            "load_average_1_5_15": list(load) if load else None,
        },
        "threads": threads,
        "blas": threadpoolctl.threadpool_info(),
        "env": environment_notes(),
        "versions": _versions(modules),
        "git": _git_revision(),
        "has_compile": hasattr(tinygrad_nn, "compile"),
    }


def blas_summary(blas: list[dict[str, Any]]) -> list[str]:
    """One line per thread pool: library, version, kernel architecture, threads."""
    lines = []
    for pool in blas:
        arch = pool.get("architecture") or pool.get("threading_layer") or "?"
        name = pool.get("internal_api", "?")
        lib = Path(pool.get("filepath", "?")).name
        lines.append(
            f"{pool.get('user_api', '?')}: {name} {pool.get('version') or ''} ({lib}), "
            f"kernel/arch {arch}, {pool.get('num_threads')} thread(s)"
        )
    return lines
