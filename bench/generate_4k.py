"""4K budget: `vibeimg generate` of a 25 MB PNG against curl | jq | base64 (target <= 1.0x).

Run: python bench/generate_4k.py [--runs N]

Starts `vibeimg mock-server --image-file` with a 3840x2160 noise PNG (about 25 MB, so
about 33 MB of JSON), then times, on the same server:
  baseline: curl ... | jq -r '.data[0].b64_json' | base64 --decode > out.png
  vibeimg:  vibeimg generate ... --size 3840x2160 -o out.png
and prints the median times, their ratio, and vibeimg's peak memory against the payload
(target: under 4x; the peak above an idle vibeimg process is shown too).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import noise_png, run_measured

TIME_TARGET = 1.0
MEMORY_TARGET = 4.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for tool in ("curl", "jq", "base64", "vibeimg"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed on PATH")
    work = Path(tempfile.mkdtemp(prefix="vibeimg-bench-"))
    payload = noise_png(work / "big.png")
    server = subprocess.Popen(
        ["vibeimg", "mock-server", "--image-file", str(work / "big.png")],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        body = '{"model": "gpt-image-2", "prompt": "noise", "size": "3840x2160"}'
        curl = (f"curl -s -X POST {url}/images/generations -H 'Authorization: Bearer k' "
                f"-H 'Content-Type: application/json' -d '{body}' "
                "| jq -r '.data[0].b64_json' | base64 --decode > curl.png")
        vibeimg = ["vibeimg", "generate", "noise", "--size", "3840x2160", "--base-url", url,
                   "--api-key", "k", "-o", "vibeimg.png", "--force", "--no-sidecar", "-q"]
        idle = ["vibeimg", "generate", "noise", "--size", "3840x2160", "--dry-run",
                "--api-key", "k", "-q"]
        run_measured(curl, work)  # warm up both paths
        run_measured(vibeimg, work)
        curl_times, vib_times, peaks = [], [], []
        for _ in range(args.runs):
            curl_times.append(run_measured(curl, work)[0])
            elapsed, peak = run_measured(vibeimg, work)
            vib_times.append(elapsed)
            peaks.append(peak)
        idle_rss = run_measured(idle, work)[1]
        same = hashlib.sha256((work / "curl.png").read_bytes()).digest() == hashlib.sha256(
            (work / "vibeimg.png").read_bytes()).digest()
    finally:
        server.terminate()
        server.wait()
    base, ours, peak = statistics.median(curl_times), statistics.median(vib_times), max(peaks)
    ratio, memory = ours / base, peak / payload
    mb = 1e6
    print(f"payload: {payload / mb:.1f} MB PNG (3840x2160), identical output: {same}")
    print(f"curl | jq | base64   {base:6.3f} s")
    print(f"vibeimg generate     {ours:6.3f} s   ratio {ratio:.2f}x   "
          f"(target <= {TIME_TARGET}x: {'ok' if ratio <= TIME_TARGET else 'MISSED'})")
    print(f"vibeimg peak memory  {peak / mb:6.1f} MB   {memory:.2f}x payload   "
          f"(target < {MEMORY_TARGET}x: {'ok' if memory < MEMORY_TARGET else 'MISSED'}); "
          f"above an idle run: {(peak - idle_rss) / mb:.1f} MB, "
          f"{(peak - idle_rss) / payload:.2f}x (idle {idle_rss / mb:.1f} MB)")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
