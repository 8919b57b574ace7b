"""Emulator budget: a batch against the emulator's own drawn placeholders stays within
1.15x of ceil(N/C) x L, so that the emulator is never what slows a CI run down.

Run: python bench/batch_latency.py [--items 64] [--concurrency 8] [--latency 0.5]
                                   [--format png] [--size 1024x1024] [--runs 3]

Starts `vibeimg mock-server --latency L` (no --image-file: every answer is a placeholder
drawn for its prompt, as in a user's CI run) and times `vibeimg batch` of N distinct
prompts at concurrency C: its own run time (from its summary) and its wall time (with
process start-up) against the ideal ceil(N/C) x L. For scale, the same batch against
`mock-server --image-file` (a fixed image: nothing drawn) is timed in the same run:
that yardstick is what the client costs, so the gap between the two is the emulator's.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import bench_env

TARGET = 1.15


def start_server(latency: float, image: Path | None) -> tuple[subprocess.Popen[str], str]:
    command = ["vibeimg", "mock-server", "--latency", str(latency)]
    if image is not None:
        command += ["--image-file", str(image)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=bench_env())
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def run_batch(url: str, work: Path, prompts: Path, args: argparse.Namespace) -> tuple[
        float, float]:
    """Wall seconds of one `vibeimg batch` process, and its own elapsed seconds."""
    shutil.rmtree(work / "out", ignore_errors=True)
    started = time.perf_counter()
    result = subprocess.run(
        ["vibeimg", "batch", str(prompts), "--base-url", url, "--api-key", "k", "-d", "out",
         "-c", str(args.concurrency), "--size", args.size, "--quality", "low",
         "--format", args.format, "-q"],
        cwd=work, env=bench_env(), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"vibeimg batch failed: {result.stderr}")
    summary = json.loads(result.stdout)
    return wall, float(summary["elapsed_seconds"])


def fixed_image(path: Path, size: str, fmt: str) -> Path:
    """A flat image of the asked size and format, made in a child process."""
    width, height = (int(edge) for edge in size.split("x"))
    code = ("import sys; from PIL import Image; "
            f"Image.new('RGB', ({width}, {height}), (90, 120, 150)).save(sys.argv[1], "
            f"{fmt.upper()!r})")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--format", default="png", choices=("png", "jpeg", "webp"))
    parser.add_argument("--size", default="1024x1024")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("vibeimg") is None:
        sys.exit("vibeimg is needed on PATH (pip install -e '.[test]')")
    work = Path(tempfile.mkdtemp(prefix="vibeimg-bench-"))
    ideal = math.ceil(args.items / args.concurrency) * args.latency
    prompts = work / "prompts.txt"
    prompts.write_text("".join(f"a watercolour otter number {i}\n" for i in range(args.items)))
    fixed = fixed_image(work / f"fixed.{args.format}", args.size, args.format)
    print(f"{args.items} items, concurrency {args.concurrency}, latency {args.latency:g} s, "
          f"{args.size} {args.format}; ideal ceil(N/C) x L = {ideal:.2f} s")
    results: dict[str, tuple[float, float]] = {}
    for label, image in (("fixed image (yardstick)", fixed), ("drawn placeholders", None)):
        server, url = start_server(args.latency, image)
        try:
            run_batch(url, work, prompts, args)  # warm up: caches, bytecode
            walls, inners = [], []
            for _ in range(args.runs):
                wall, inner = run_batch(url, work, prompts, args)
                walls.append(wall)
                inners.append(inner)
        finally:
            server.terminate()
            server.wait(timeout=10)
        results[label] = (statistics.median(inners), statistics.median(walls))
    for label, (inner, wall) in results.items():
        verdict = "ok" if inner / ideal <= TARGET else "MISSED"
        print(f"  {label:24} batch run {inner:6.2f} s  {inner / ideal:.3f}x ideal "
              f"(target <= {TARGET}x: {verdict});  with start-up {wall:6.2f} s  "
              f"{wall / ideal:.3f}x")
    drawn, fixed_run = results["drawn placeholders"][0], results["fixed image (yardstick)"][0]
    print(f"  drawing costs {drawn / fixed_run:.3f}x the fixed-image run")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
