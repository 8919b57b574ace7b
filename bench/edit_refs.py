"""Edit budget: `vibeimg edit` with 16 reference images of 1024x1024 (about 30 MB of
upload) within 1.2x of the gateway's curl multipart sample; peak memory within 1.5x
of the inputs.

Run: python bench/edit_refs.py [--runs N] [--images 16]

Starts `vibeimg mock-server --image-file` with a small fixed answer (the emulator's own
drawing is not what is measured), then times, in turn on the same server:
  curl:    curl -s -X POST $URL/images/edits -F model=... -F 'image[]=@1.png' ... -F prompt=...
             | jq -r '.data[0].b64_json' | base64 --decode > out.png   (the gateway's sample)
  vibeimg: vibeimg edit PROMPT -i 1.png ... -i 16.png -o out.png
The ratio is the median of the pairs' wall-time ratios, with its range. Peak memory is
vibeimg's largest resident size, against the inputs' total size; the peak above an
idle run of the same process (`--dry-run` of one tiny image) is shown too.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import run_measured

TIME_TARGET = 1.2
MEMORY_TARGET = 1.5

REFERENCE = (
    "import os, sys; from PIL import Image\n"
    "for i in range(int(sys.argv[2])):\n"
    # Noise in 32 levels: about 1.9 MB per 1024x1024 PNG, the weight of a detailed photo.
    "    raw = bytes(b & 0x1F for b in os.urandom(1024 * 1024 * 3))\n"
    "    Image.frombytes('RGB', (1024, 1024), raw).save(f'{sys.argv[1]}/ref-{i:02d}.png',"
    " compress_level=6)\n"
    "Image.new('RGB', (64, 64), 'white').save(f'{sys.argv[1]}/answer.png')\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--images", type=int, default=16)
    args = parser.parse_args()
    for tool in ("curl", "jq", "base64", "vibeimg"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed on PATH")
    work = Path(tempfile.mkdtemp(prefix="vibeimg-bench-edit-"))
    subprocess.run([sys.executable, "-c", REFERENCE, str(work), str(args.images)], check=True)
    refs = sorted(work.glob("ref-*.png"))
    inputs = sum(ref.stat().st_size for ref in refs)
    server = subprocess.Popen(
        ["vibeimg", "mock-server", "--image-file", str(work / "answer.png")],
        stdout=subprocess.PIPE, text=True,
    )
    prompt = "a gift basket with all these items"
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        parts = " ".join(f"-F 'image[]=@{ref.name}'" for ref in refs)
        curl = (f"curl -s -X POST {url}/images/edits -H 'Authorization: Bearer k' "
                f"-F model=gpt-image-2 {parts} -F 'prompt={prompt}' -F size=1024x1024 "
                "-F quality=low | jq -r '.data[0].b64_json' | base64 --decode > curl.png")
        images = [arg for ref in refs for arg in ("-i", ref.name)]
        vibeimg = ["vibeimg", "edit", prompt, *images, "--size", "1024x1024", "--quality",
                   "low", "--base-url", url, "--api-key", "k", "-o", "vibeimg.png", "--force",
                   "--no-history", "-q"]
        idle = ["vibeimg", "edit", prompt, "-i", "answer.png", "--dry-run", "--api-key", "k",
                "-q"]
        run_measured(curl, work)  # warm up both paths
        run_measured(vibeimg, work)
        curl_times, vib_times, ratios, peaks = [], [], [], []
        for _ in range(args.runs):
            base = run_measured(curl, work)[0]
            elapsed, peak = run_measured(vibeimg, work)
            curl_times.append(base)
            vib_times.append(elapsed)
            ratios.append(elapsed / base)
            peaks.append(peak)
        idle_rss = run_measured(idle, work)[1]
        same = (work / "curl.png").read_bytes() == (work / "vibeimg.png").read_bytes()
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    ratio, peak = statistics.median(ratios), max(peaks)
    mb = 1e6
    print(f"inputs: {len(refs)} PNGs of 1024x1024, {inputs / mb:.1f} MB; same answer saved: "
          f"{same}")
    print(f"curl multipart sample  {statistics.median(curl_times):6.3f} s")
    print(f"vibeimg edit           {statistics.median(vib_times):6.3f} s   ratio {ratio:.2f}x "
          f"({min(ratios):.2f}-{max(ratios):.2f})   (target <= {TIME_TARGET}x: "
          f"{'ok' if ratio <= TIME_TARGET else 'MISSED'})")
    print(f"vibeimg peak memory    {peak / mb:6.1f} MB   {peak / inputs:.2f}x the inputs "
          f"(target <= {MEMORY_TARGET}x: {'ok' if peak / inputs <= MEMORY_TARGET else 'MISSED'})"
          f"; above an idle run: {(peak - idle_rss) / mb:.1f} MB, "
          f"{(peak - idle_rss) / inputs:.2f}x (idle {idle_rss / mb:.1f} MB)")


if __name__ == "__main__":
    main()
