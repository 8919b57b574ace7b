"""Start-up budget: every command's `--help` within 1.3x of `python -c "import typer"`,
`generate --dry-run` within 1.4x.

Run: python bench/startup.py [--runs N]

Each command and the yardstick run in turn (A B A B ...), so that a machine whose speed
drifts slows both; the ratio is the median of the pairs' ratios, with its range. The
figure is CPU time (user + system) of the child: on a shared machine, wall time also
counts the time other work held the processor. No config file is read (a fresh HOME),
as on a first run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile

from benchlib import bench_env, paired

HELP_TARGET = 1.3
DRY_RUN_TARGET = 1.4
COMMANDS = ["generate", "edit", "chat-stream", "mask-convert", "batch", "history", "config",
            "doctor"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    vibeimg = shutil.which("vibeimg")
    if vibeimg is None:
        sys.exit("vibeimg is not on PATH: pip install -e . first")
    home = tempfile.mkdtemp(prefix="vibeimg-bench-home-")
    env = {k: v for k, v in bench_env().items()
           if not k.startswith(("VIBEIMG_", "XDG_", "OPENAI_"))}
    env["HOME"] = home
    baseline = [sys.executable, "-c", "import typer"]
    cases = [([vibeimg, "--help"], HELP_TARGET)]
    cases += [([vibeimg, name, "--help"], HELP_TARGET) for name in COMMANDS]
    cases.append(([vibeimg, "generate", "a red fox", "--dry-run"], DRY_RUN_TARGET))
    print(f"CPU time against python -c 'import typer', median of {args.runs} pairs "
          "(lowest-highest)")
    try:
        for command, target in cases:
            seconds, ratio, low, high = paired(command, baseline, args.runs, env)
            name = " ".join(["vibeimg", *command[1:]])
            verdict = "ok" if ratio <= target else "MISSED"
            print(f"  {name:34} {seconds * 1000:6.1f} ms  {ratio:.2f}x ({low:.2f}-{high:.2f})"
                  f"  target <= {target}x: {verdict}")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
