"""Batch budget: N requests at latency L and concurrency C within 1.15x of ceil(N/C) x L.

Run: python bench/batch.py [--items 64] [--concurrency 8] [--latency 0.5]

Emulators run as separate processes (`vibeimg mock-server --image-file`), serving a
fixed 768x768 PNG: flat (a few kB: the batch machinery alone) or noise (1.8 MB, the
weight of a real 1024x1024 PNG: decoding and writing it is real work on 2 cores).

1. Throughput: `vibeimg batch` of N prompts at concurrency C against the emulator with
   latency L; its own run time (from the summary) and its wall time (process start-up
   included) against the ideal ceil(N/C) x L. Target: within 1.15x. The official
   `openai` SDK with C threads doing the same work is shown for scale.
2. Per-item overhead: the same images one at a time with no latency, `vibeimg batch -c 1`
   (which also writes a sidecar, hashes each image and fsyncs a manifest line) against a
   plain loop of the official `openai` SDK that decodes and writes each image. Both are
   timed from their first request to their last file, start-up excluded.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import bench_env

TARGET = 1.15

SDK_POOL = """
import base64, sys, time
from concurrent.futures import ThreadPoolExecutor
from openai import OpenAI
url, count, out, workers = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
client = OpenAI(base_url=url, api_key="k", max_retries=0)
def one(i):
    answer = client.images.generate(model="gpt-image-2", prompt=f"noise {i}",
                                    size="1024x1024", quality="low")
    with open(f"{out}/pool-{i}.png", "wb") as file:
        file.write(base64.b64decode(answer.data[0].b64_json))
started = time.perf_counter()
with ThreadPoolExecutor(workers) as pool:
    list(pool.map(one, range(count)))
print(time.perf_counter() - started)
"""

SDK_LOOP = """
import base64, sys, time
from openai import OpenAI
url, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
client = OpenAI(base_url=url, api_key="k")
started = time.perf_counter()
for i in range(count):
    answer = client.images.generate(model="gpt-image-2", prompt=f"noise {i}",
                                    size="1024x1024", quality="low")
    with open(f"{out}/sdk-{i}.png", "wb") as file:
        file.write(base64.b64decode(answer.data[0].b64_json))
print(time.perf_counter() - started)
"""


def make_png(path: Path, *, noise: bool) -> int:
    """A 768x768 noise PNG (1.8 MB, like a real image), or a flat one (a few kB)."""
    pixels = "os.urandom(768 * 768 * 3)" if noise else "bytes(768 * 768 * 3)"
    code = ("import os, sys; from PIL import Image; Image.frombytes('RGB', (768, 768), "
            f"{pixels}).save(sys.argv[1], 'PNG', compress_level=1)")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    return path.stat().st_size


def start_server(image: Path, latency: float) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        ["vibeimg", "mock-server", "--image-file", str(image), "--latency", str(latency)],
        stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def run_batch(url: str, work: Path, prompts: Path, out: str, concurrency: int) -> tuple[
        float, dict[str, object]]:
    """Wall seconds of one `vibeimg batch` process, and its summary."""
    shutil.rmtree(work / out, ignore_errors=True)
    env = bench_env()
    started = time.perf_counter()
    result = subprocess.run(
        ["vibeimg", "batch", str(prompts), "--base-url", url, "--api-key", "k", "-d", out,
         "-c", str(concurrency), "--size", "1024x1024", "--quality", "low", "-q"],
        cwd=work, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"vibeimg batch failed: {result.stderr}")
    return wall, json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--overhead-items", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("vibeimg") is None:
        sys.exit("vibeimg is needed on PATH (pip install -e '.[test]')")
    work = Path(tempfile.mkdtemp(prefix="vibeimg-bench-"))
    ideal = math.ceil(args.items / args.concurrency) * args.latency
    print(f"throughput: {args.items} items, concurrency {args.concurrency}, latency "
          f"{args.latency:g} s; ideal ceil(N/C) x L = {ideal:.2f} s")
    servers: list[subprocess.Popen[str]] = []
    try:
        prompts = work / "prompts.txt"
        prompts.write_text("".join(f"noise {i}\n" for i in range(args.items)))
        (work / "sdk").mkdir()
        for noise in (False, True):
            size = make_png(work / f"image-{noise}.png", noise=noise)
            server, url = start_server(work / f"image-{noise}.png", args.latency)
            servers.append(server)
            run_batch(url, work, prompts, "warm", args.concurrency)  # warm caches
            wall, summary = run_batch(url, work, prompts, "out", args.concurrency)
            inner = float(summary["elapsed_seconds"])  # type: ignore[arg-type]
            pool = float(subprocess.run(
                [sys.executable, "-c", SDK_POOL, url, str(args.items), str(work / "sdk"),
                 str(args.concurrency)], capture_output=True, text=True, check=True).stdout)
            verdict = "OK" if inner / ideal <= TARGET else "OVER"
            print(f"  {size / 1e6:.3f} MB per image:")
            print(f"    vibeimg batch run:       {inner:.2f} s  {inner / ideal:.3f}x "
                  f"(target {TARGET}x) {verdict}")
            print(f"    with process start-up:   {wall:.2f} s  {wall / ideal:.3f}x")
            print(f"    openai SDK, {args.concurrency} threads:   {pool:.2f} s  "
                  f"{pool / ideal:.3f}x (the same work without a manifest or sidecars)")

        fast, fast_url = start_server(work / "image-True.png", 0.0)
        servers.append(fast)
        count = args.overhead_items
        few = work / "few.txt"
        few.write_text("".join(f"noise {i}\n" for i in range(count)))
        sdk_times, vibeimg_times = [], []
        for _ in range(3):
            sdk = subprocess.run([sys.executable, "-c", SDK_LOOP, fast_url, str(count),
                                  str(work / "sdk")], capture_output=True, text=True,
                                 check=True)
            sdk_times.append(float(sdk.stdout.strip()))
            _, summary = run_batch(fast_url, work, few, "one", 1)
            vibeimg_times.append(float(summary["elapsed_seconds"]))  # type: ignore[arg-type]
        sdk_item = min(sdk_times) / count * 1000
        vibeimg_item = min(vibeimg_times) / count * 1000
        print(f"per item, one at a time, no latency ({count} items, best of 3):")
        print(f"  openai SDK loop: {sdk_item:.1f} ms   vibeimg batch -c 1: {vibeimg_item:.1f} ms"
              f"   ratio {vibeimg_item / sdk_item:.2f}x")
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
