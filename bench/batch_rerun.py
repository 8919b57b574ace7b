"""Rerun budget: a finished batch's rerun checks every item's files before skipping it.

Run: python bench/batch_rerun.py [--items 10000] [--noise-items 300]

1. N items are made once (a flat PNG of a few kB from `vibeimg mock-server --image-file`,
   concurrency 8, no history), then the same command is run again, when everything is
   done: with `--verify fast` (the default: one lstat per image and sidecar, a hash only
   for a file modified since) and `--verify full` (the SHA-256 of every file). Both are
   shown against `vibeimg batch --dry-run` of the same file into an empty folder (the
   parse and plan that any rerun costs anyway) and against `sha256sum` over the same
   files (what hashing them costs at the least).
2. The same with 1.8 MB noise PNGs (the weight of a real 1024x1024 image) for fewer
   items: `--verify full` reads every byte, so its cost follows the gigabytes, and the
   fast check does not.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from batch import make_png, start_server
from benchlib import bench_env


def timed(argv: list[str] | str, cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=bench_env(), capture_output=True, text=True,
                            check=False, shell=isinstance(argv, str))
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{argv} failed: {result.stderr[-2000:]}")
    return elapsed, result.stdout


def best(argv: list[str] | str, cwd: Path, runs: int = 3) -> tuple[float, str]:
    results = [timed(argv, cwd) for _ in range(runs)]
    return min(r[0] for r in results), results[-1][1]


def measure(work: Path, items: int, *, noise: bool) -> None:
    image = work / f"image-{noise}.png"
    size = make_png(image, noise=noise)
    prompts = work / f"prompts-{items}.txt"
    prompts.write_text("".join(f"noise {i}\n" for i in range(items)))
    server, url = start_server(image, 0.0)
    try:
        batch = ["vibeimg", "batch", str(prompts), "--base-url", url, "--api-key", "k",
                 "-d", "out", "-c", "8", "--size", "1024x1024", "--quality", "low", "-q",
                 "--no-history"]
        shutil.rmtree(work / "out", ignore_errors=True)
        made, _ = timed(batch, work)
        fast, stdout = best(batch, work)
        assert json.loads(stdout)["skipped"] == items
        full, _ = best([*batch, "--verify", "full"], work)
        shutil.rmtree(work / "empty", ignore_errors=True)
        plan, _ = best([*batch[:7], "-d", "empty", "--dry-run", *batch[9:]], work)
        hashing, _ = best("find out -name '*.png' -o -name '*.json' | xargs sha256sum "
                          "> /dev/null", work)
    finally:
        server.terminate()
        server.wait()
    kind = f"{size / 1e6:.1f} MB noise PNGs" if noise else f"{size / 1e3:.0f} kB flat PNGs"
    print(f"{items} items of {kind} (made in {made:.1f} s):")
    print(f"  rerun --verify fast {fast:6.2f} s   {fast / plan:5.2f}x the dry-run plan "
          f"({plan:.2f} s)")
    print(f"  rerun --verify full {full:6.2f} s   {full / plan:5.2f}x the dry-run plan, "
          f"{full / hashing:5.2f}x sha256sum of the files ({hashing:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--noise-items", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vibeimg-bench-") as folder:
        work = Path(folder)
        measure(work, args.items, noise=False)
        if args.noise_items:
            measure(work, args.noise_items, noise=True)


if __name__ == "__main__":
    main()
