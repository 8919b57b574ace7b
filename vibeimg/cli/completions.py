"""Regenerate ``completions/`` from the CLI: ``python -m vibeimg.cli.completions [DIR]``.

Each script is exactly what ``_VIBEIMG_COMPLETE=source_SHELL vibeimg`` prints; a test
fails when the files in the repository drift from it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_VIBEIMG_COMPLETE"


def script_name(shell: str) -> str:
    return f"vibeimg.{shell}"


def generate_script(shell: str) -> str:
    """The completion script the CLI prints for ``shell``."""
    env = {**os.environ, COMPLETE_VAR: f"source_{shell}"}
    done = subprocess.run(
        [sys.executable, "-c", "from vibeimg.cli.app import main; main()"],
        env=env, capture_output=True, text=True, check=True,
    )
    return done.stdout


def write_scripts(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for shell in SHELLS:
        path = folder / script_name(shell)
        path.write_text(generate_script(shell), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    import argparse

    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(
        prog="python -m vibeimg.cli.completions",
        description="Write vibeimg's bash, zsh and fish completion scripts.")
    parser.add_argument("folder", nargs="?", type=Path, default=root / "completions",
                        help="where to write them (default: the repository's completions/)")
    folder: Path = parser.parse_args(argv).folder
    for path in write_scripts(folder):
        sys.stdout.write(f"{path}\n")


if __name__ == "__main__":
    main()
