"""Batch at scale: N items at latency 0 with -c 8 no slower than the official openai SDK
with ThreadPoolExecutor(8) that decodes and writes each image (target <= 1.0x at 2,000
and 10,000 items), peak memory at 10,000 items <= 80 MB, time per item flat.

Run: python bench/batch_scale.py [--items 200,2000,10000] [--runs 3] [--concurrency 8]

One emulator (`vibeimg mock-server --image-file`, no latency) serves a small fixed PNG.
For each size N, the two run in turn, each in a fresh output folder (and vibeimg with a
fresh history, which it writes, as it writes a sidecar per image and its manifest; the
SDK script writes only the images):
  sdk:     python -c SDK_POOL URL N OUT 8
  vibeimg: vibeimg batch prompts.txt -d OUT -c 8 --size 1024x1024 --quality low -q
Both are timed as whole processes (start-up included); the ratio is the median of the
pairs' ratios, with its range. Also shown: vibeimg's time per item, and its peak
resident memory.

Every run's files stay until the end, then all go. On an ext4 without a journal (as
some virtual machines have) a new file's inode number is chosen past every inode freed
in the last five minutes, one by one; removing one run's 20,000 files would tax each
file the next run makes, and that run is the other tool's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import bench_env

TIME_TARGET = 1.0
MEMORY_TARGET = 80e6

SDK_POOL = """
import base64, sys
from concurrent.futures import ThreadPoolExecutor
from openai import OpenAI
url, count, out, workers = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
client = OpenAI(base_url=url, api_key="k", max_retries=0)
def one(i):
    answer = client.images.generate(model="gpt-image-2", prompt=f"noise {i}",
                                    size="1024x1024", quality="low")
    with open(f"{out}/sdk-{i}.png", "wb") as file:
        file.write(base64.b64decode(answer.data[0].b64_json))
with ThreadPoolExecutor(workers) as pool:
    list(pool.map(one, range(count)))
"""

SMALL_PNG = (
    "import os, sys; from PIL import Image; "
    "Image.frombytes('RGB', (128, 128), os.urandom(128 * 128 * 3))"
    ".save(sys.argv[1], 'PNG', compress_level=1)"
)


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak resident bytes of one run."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    assert process.stderr is not None
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(argv[:3])}...: {process.stderr.read().decode()[-500:]}")
    return elapsed, usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", default="200,2000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    sizes = [int(n) for n in args.items.split(",")]
    if shutil.which("vibeimg") is None:
        sys.exit("vibeimg is needed on PATH (pip install -e '.[test]')")
    work = Path(tempfile.mkdtemp(prefix="vibeimg-bench-scale-"))
    env = {k: v for k, v in bench_env().items() if not k.startswith("VIBEIMG_")}
    subprocess.run([sys.executable, "-c", SMALL_PNG, str(work / "image.png")], check=True)
    server = subprocess.Popen(["vibeimg", "mock-server", "--image-file",
                               str(work / "image.png")], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        image_kb = (work / "image.png").stat().st_size / 1000
        print(f"latency 0, -c {args.concurrency}, a {image_kb:.0f} kB PNG per item; whole "
              f"processes, median of {args.runs} pairs (lowest-highest)")
        for count in sizes:
            prompts = work / f"prompts-{count}.txt"
            prompts.write_text("".join(f"noise {i}\n" for i in range(count)))
            ratios, ours, theirs, peaks = [], [], [], []
            for run in range(args.runs):
                sdk_out = work / f"sdk-{count}-{run}"
                sdk_out.mkdir()
                base, _ = timed([sys.executable, "-c", SDK_POOL, url, str(count),
                                 str(sdk_out), str(args.concurrency)], work, env)
                home = work / f"home-{count}-{run}"
                env_run = {**env, "VIBEIMG_HOME": str(home)}
                elapsed, peak = timed(
                    ["vibeimg", "batch", str(prompts), "--base-url", url, "--api-key", "k",
                     "-d", f"out-{count}-{run}", "-c", str(args.concurrency), "--size",
                     "1024x1024", "--quality", "low", "-q"], work, env_run)
                ratios.append(elapsed / base)
                ours.append(elapsed)
                theirs.append(base)
                peaks.append(peak)
            ratio, mine = statistics.median(ratios), statistics.median(ours)
            verdict = "ok" if ratio <= TIME_TARGET else "MISSED"
            print(f"  {count:>6} items: vibeimg {mine:6.2f} s ({mine / count * 1000:5.2f} ms "
                  f"per item), SDK {statistics.median(theirs):6.2f} s: {ratio:.2f}x "
                  f"({min(ratios):.2f}-{max(ratios):.2f}) target <= {TIME_TARGET}x: {verdict}"
                  f"; peak {max(peaks) / 1e6:.0f} MB")
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
