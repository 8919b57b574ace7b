"""Start-up budget: `vibeimg --help` against `python -c "import typer"` (target <= 1.3x).

Run: python bench/startup.py [--runs N]
Prints the median wall time of each command over N runs and their ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

from benchlib import bench_env

TARGET = 1.3


def median_seconds(command: list[str], runs: int) -> float:
    env = bench_env()
    subprocess.run(command, capture_output=True, check=True, env=env)  # warm caches
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, env=env)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    vibeimg = shutil.which("vibeimg")
    if vibeimg is None:
        sys.exit("vibeimg is not on PATH: pip install -e . first")
    baseline = median_seconds([sys.executable, "-c", "import typer"], args.runs)
    help_time = median_seconds([vibeimg, "--help"], args.runs)
    command_help = median_seconds([vibeimg, "generate", "--help"], args.runs)
    ratio = help_time / baseline
    print(f"python -c 'import typer'   {baseline * 1000:7.1f} ms")
    print(f"vibeimg --help             {help_time * 1000:7.1f} ms   ratio {ratio:.2f}x"
          f"   (target <= {TARGET}x: {'ok' if ratio <= TARGET else 'MISSED'})")
    print(f"vibeimg generate --help    {command_help * 1000:7.1f} ms   ratio "
          f"{command_help / baseline:.2f}x")


if __name__ == "__main__":
    main()
