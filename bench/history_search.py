"""History budget: `vibeimg history search` at 10,000 runs against `python -c "import typer"`
(target <= 1.5x), for Chinese and English terms, short and long, found and not found.

Run: python bench/history_search.py [--runs N] [--rows N]
Fills a history of mixed Chinese, English and emoji prompts in a temporary VIBEIMG_HOME,
then times each search and `import typer` in turn, N pairs, and prints the median
ratio of the pairs with its range.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import bench_env

TARGET = 1.5
WORDS = ["一只", "水彩", "风格", "的", "水獭", "狐狸", "雪地", "夜景", "a", "watercolor",
         "otter", "fox", "in", "snow", "Привет", "🦦"]
QUERIES = ["水獭", "水彩风格", "otter", "🦦", "watercolor 水獭", "浣熊", "Ж", "badger"]


def fill(home: Path, rows: int) -> None:
    os.environ["VIBEIMG_HOME"] = str(home)
    from vibeimg.records.history import History  # noqa: PLC0415 - after VIBEIMG_HOME
    from vibeimg.records.runs import Entry  # noqa: PLC0415

    pick = random.Random(7)
    with History() as history:
        conn = history.connection()
        with conn:
            for _ in range(rows):
                prompt = " ".join(pick.choice(WORDS) for _ in range(8))
                history.add(Entry(command="generate", prompt=prompt,
                                  revised_prompt=prompt + ", rendered"))


def wall_seconds(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True, env=env)
    return time.perf_counter() - started


def paired(command: list[str], baseline: list[str], runs: int,
           env: dict[str, str]) -> tuple[float, float, float, float]:
    """``command`` and ``baseline`` in turn, ``runs`` times after a warm-up of each (a
    busy moment of the machine then weighs on both): the median seconds of ``command``
    and the median, lowest and highest ratio of the pairs."""
    wall_seconds(command, env)
    wall_seconds(baseline, env)
    took, ratios = [], []
    for _ in range(runs):
        mine = wall_seconds(command, env)
        ratios.append(mine / wall_seconds(baseline, env))
        took.append(mine)
    return statistics.median(took), statistics.median(ratios), min(ratios), max(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    vibeimg = shutil.which("vibeimg")
    if vibeimg is None:
        sys.exit("vibeimg is not on PATH: pip install -e . first")
    with tempfile.TemporaryDirectory() as home:
        fill(Path(home), args.rows)
        env = {**bench_env(), "VIBEIMG_HOME": home}
        typer = [sys.executable, "-c", "import typer"]
        print(f"wall time against {' '.join(typer[1:])!r}, median of {args.runs} pairs "
              "(lowest-highest)")
        for query in QUERIES:
            took, ratio, low, high = paired(
                [vibeimg, "history", "search", *query.split()], typer, args.runs, env)
            print(f"{'history search ' + query:<32} {took * 1000:7.0f} ms  {ratio:4.2f}x "
                  f"({low:.2f}-{high:.2f}, budget {TARGET}x)"
                  f"{'' if ratio <= TARGET else '  OVER'}")


if __name__ == "__main__":
    main()
