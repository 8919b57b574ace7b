"""History budget: `history`, `history search` and `history cost` over 10,000 runs within
1.5x of `python -c "import typer"`.

Run: python bench/history.py [--rows 10000] [--runs N]

The history is filled in a fresh VIBEIMG_HOME with runs like real ones (prompts of a
few words, parameters, outputs, usage); each command and the yardstick then run in
turn, and the ratio is the median of the pairs' CPU-time ratios, with its range.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import bench_env, paired

TARGET = 1.5

FILL = """
import random, sys
from vibeimg.records.history import History
from vibeimg.records.runs import Entry
words = "otter fox lighthouse watercolor scarf winter harbor neon city robot".split()
rows = int(sys.argv[1])
random.seed(1)
with History() as history:
    history.connection().execute("PRAGMA synchronous = OFF")  # filling, not measuring
    for i in range(rows):
        prompt = " ".join(random.choice(words) for _ in range(6))
        history.add(Entry(
            command=random.choice(["generate", "edit", "chat-stream", "batch"]),
            prompt=prompt, model="gpt-image-2", images=1, outcome="completed",
            parameters={"size": "1024x1024", "quality": "low", "count": 1},
            outputs=[f"/tmp/out/{i}.png"], request_ids=[f"req_{i}"],
            usage={"total_tokens": 4200, "output_tokens": 4160},
            estimated_cost_usd=0.011, offline=i % 10 == 0, elapsed_seconds=3.5,
            created=f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z"))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    vibeimg = shutil.which("vibeimg")
    if vibeimg is None:
        sys.exit("vibeimg is not on PATH: pip install -e . first")
    home = Path(tempfile.mkdtemp(prefix="vibeimg-bench-history-"))
    env = {k: v for k, v in bench_env().items() if not k.startswith(("VIBEIMG_", "XDG_"))}
    env["HOME"] = str(home)
    env["VIBEIMG_HOME"] = str(home / "vibeimg")
    try:
        subprocess.run([sys.executable, "-c", FILL, str(args.rows)], env=env, check=True)
        size = (home / "vibeimg" / "data" / "history.sqlite3").stat().st_size
        print(f"{args.rows:,} runs in the history ({size / 1e6:.1f} MB); CPU time against "
              f"python -c 'import typer', median of {args.runs} pairs (lowest-highest)")
        baseline = [sys.executable, "-c", "import typer"]
        for words in (["history"], ["history", "search", "otter", "fox"],
                      ["history", "cost"], ["history", "cost", "--since", "2025-06-01"]):
            seconds, ratio, low, high = paired([vibeimg, *words], baseline, args.runs, env)
            verdict = "ok" if ratio <= TARGET else "MISSED"
            print(f"  vibeimg {' '.join(words):28} {seconds * 1000:6.1f} ms  {ratio:.2f}x "
                  f"({low:.2f}-{high:.2f})  target <= {TARGET}x: {verdict}")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
