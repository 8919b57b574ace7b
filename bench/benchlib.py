"""What the benchmark scripts share: the user's data kept out of reach, a 4K noise image
and measured child processes.

Importing this module moves every vibeimg the script starts, and vibeimg imported in
the script itself, to a fresh ``VIBEIMG_HOME`` (removed at exit): a benchmark never
adds runs to the user's history, never reads their config file or sessions. Every
script imports it first; a script that wants a home per run sets its own.
"""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _isolated_home() -> Path:
    """A fresh VIBEIMG_HOME for this process and its children; the user's settings from
    the environment (VIBEIMG_*) go with it, so a benchmark measures the defaults."""
    home = Path(tempfile.mkdtemp(prefix="vibeimg-bench-home-"))
    for name in [name for name in os.environ if name.startswith("VIBEIMG_")]:
        del os.environ[name]
    os.environ["VIBEIMG_HOME"] = str(home)
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    return home


BENCH_HOME = _isolated_home()


def bench_env() -> dict[str, str]:
    """The environment of the processes measured: this script's, so with its own
    VIBEIMG_HOME. Users' Pythons cache bytecode; a machine that disables it would
    time the compiler."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def noise_png(path: Path) -> int:
    """A 3840x2160 noise PNG (about 25 MB); its size in bytes.

    Made in a child process: a forked child's peak RSS starts at its parent's, so the
    measuring process must stay small.
    """
    code = (
        "import os, sys; from PIL import Image; "
        "Image.frombytes('RGB', (3840, 2160), os.urandom(3840 * 2160 * 3))"
        ".save(sys.argv[1], 'PNG', compress_level=1)"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    return path.stat().st_size


def run_measured(command: list[str] | str, cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS in bytes of one run; a string runs as a bash pipeline
    (its peak is that of its largest process)."""
    argv = ["bash", "-o", "pipefail", "-c", command] if isinstance(command, str) else command
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, env=bench_env())
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed: {command}")
    return elapsed, usage.ru_maxrss * 1024


def cpu_seconds(command: list[str], env: dict[str, str]) -> float:
    """User + system CPU seconds of one run of ``command``."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed: {command}")
    return usage.ru_utime + usage.ru_stime


def paired(command: list[str], baseline: list[str], runs: int,
           env: dict[str, str]) -> tuple[float, float, float, float]:
    """``command`` and ``baseline`` in turn, ``runs`` times after one warm-up each:
    the median CPU seconds of ``command``, and the median, lowest and highest ratio of
    the pairs."""
    cpu_seconds(command, env)  # warm the caches and write the bytecode
    cpu_seconds(baseline, env)
    mine, ratios = [], []
    for _ in range(runs):
        a = cpu_seconds(command, env)
        b = cpu_seconds(baseline, env)
        mine.append(a)
        ratios.append(a / b)
    return statistics.median(mine), statistics.median(ratios), min(ratios), max(ratios)
