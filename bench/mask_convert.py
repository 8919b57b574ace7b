"""mask-convert budget: a 4K mask against the gateway's own Pillow recipe (target <= 1.0x).

Run: python bench/mask_convert.py [--runs N] [--masks N]

1. One 3840x2160 black-and-white mask, whole process each time:
     baseline: python recipe.py in.png out.png   (the reference doc's recipe as a script)
     vibeimg:  vibeimg mask-convert in.png -o out.png --force -q
   Prints the median times and their ratio, and checks that both outputs hold the same
   pixels.
2. A folder of 1024x1024 masks (100 by default), converted with --jobs 1 and with the
   default (one worker per CPU). Prints both times, the speed-up, and the CPU time of
   the run against its wall time: above 1.0 means more than one core was busy.
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
from PIL import Image, ImageDraw

TARGET = 1.0

# The reference doc's conversion, unchanged but for reading its paths from argv.
RECIPE = """\
import sys
from io import BytesIO

from PIL import Image

img_path_mask, img_path_mask_alpha = sys.argv[1], sys.argv[2]
# 1. Load the black-and-white mask as greyscale
mask = Image.open(img_path_mask).convert("L")
# 2. Convert to RGBA to add an alpha channel
mask_rgba = mask.convert("RGBA")
# 3. Fill the alpha channel with the mask itself
mask_rgba.putalpha(mask)
# 4. Convert the mask to bytes
buf = BytesIO()
mask_rgba.save(buf, format="PNG")
mask_bytes = buf.getvalue()
# 5. Save the result
with open(img_path_mask_alpha, "wb") as f:
    f.write(mask_bytes)
"""


def drawn_mask(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A mask as people draw them: white, with black blobs and strokes to repaint."""
    w, h = size
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    draw.ellipse((w // 4 + seed, h // 4, w // 2 + seed, 3 * h // 4), fill=0)
    draw.rectangle((w // 20, h // 20, w // 6, h // 2 - seed % 50), fill=0)
    draw.line((0, h - 1, w - 1, h // 3), fill=0, width=max(4, w // 100))
    return image


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run."""
    env = bench_env()
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed: {' '.join(command)}")
    # wait4 reports the process and its waited-for children (the pool's workers).
    return elapsed, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--masks", type=int, default=100)
    args = parser.parse_args()
    if shutil.which("vibeimg") is None:
        sys.exit("vibeimg is not on PATH: pip install -e . first")
    work = Path(tempfile.mkdtemp(prefix="vibeimg-bench-"))
    try:
        single(work, args.runs)
        folder(work, args.masks)
    finally:
        shutil.rmtree(work)


def single(work: Path, runs: int) -> None:
    drawn_mask((3840, 2160)).save(work / "mask4k.png")
    (work / "recipe.py").write_text(RECIPE)
    recipe = [sys.executable, "recipe.py", "mask4k.png", "recipe.png"]
    ours = ["vibeimg", "mask-convert", "mask4k.png", "-o", "vibeimg.png", "--force", "-q"]
    timed(recipe, work)  # warm the caches of both
    timed(ours, work)
    base_times, our_times = [], []
    for _ in range(runs):
        base_times.append(timed(recipe, work)[0])
        our_times.append(timed(ours, work)[0])
    base, mine = statistics.median(base_times), statistics.median(our_times)
    same = (Image.open(work / "recipe.png").tobytes()
            == Image.open(work / "vibeimg.png").tobytes())
    ratio = mine / base
    print(f"3840x2160 mask, whole process, median of {runs}; identical pixels: {same}")
    print(f"  gateway recipe script   {base * 1000:6.0f} ms   "
          f"{(work / 'recipe.png').stat().st_size:>8,} bytes")
    print(f"  vibeimg mask-convert    {mine * 1000:6.0f} ms   "
          f"{(work / 'vibeimg.png').stat().st_size:>8,} bytes   ratio {ratio:.2f}x "
          f"(target <= {TARGET}x: {'ok' if ratio <= TARGET else 'MISSED'})")


def folder(work: Path, count: int) -> None:
    masks = work / "masks"
    masks.mkdir()
    for i in range(count):
        drawn_mask((1024, 1024), seed=i * 3).save(masks / f"m{i:03}.png")
    inputs = sorted(str(p) for p in masks.iterdir())
    results = {}
    for label, extra in (("--jobs 1", ["--jobs", "1"]), ("default", [])):
        out = work / f"out-{len(results)}"
        command = ["vibeimg", "mask-convert", *inputs, "--out-dir", str(out), "-q", *extra]
        results[label] = timed(command, work)
    serial_wall, _ = results["--jobs 1"]
    wall, cpu = results["default"]
    print(f"{count} masks of 1024x1024, {os.cpu_count()} CPUs")
    print(f"  --jobs 1                {serial_wall:6.2f} s")
    print(f"  default (a worker/CPU)  {wall:6.2f} s   speed-up {serial_wall / wall:.2f}x   "
          f"CPU time / wall time {cpu / wall:.2f} (above 1.0: a second core at work)")


if __name__ == "__main__":
    main()
