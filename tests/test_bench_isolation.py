"""The benchmark scripts never touch the user's data: history, sessions, config."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if p.name != "benchlib.py")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_bench_script_imports_benchlib_before_anything_runs(script: Path) -> None:
    """Each script imports benchlib at its top, before any vibeimg import: importing it
    is what moves the script and its children to a home of their own."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    names = [node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
             for node in imports]
    assert "benchlib" in names, f"{script.name} does not import benchlib"
    first_vibeimg = next((i for i, name in enumerate(names)
                          if name and name.startswith("vibeimg")), len(names))
    assert names.index("benchlib") < first_vibeimg


def test_benchlib_gives_the_script_and_its_children_a_home_of_their_own(
        tmp_path: Path) -> None:
    """Importing benchlib replaces the user's VIBEIMG_HOME (and their VIBEIMG_ settings)
    with a fresh empty folder, which the children inherit and which is gone at exit."""
    user_home = tmp_path / "user-home"
    code = (
        "import os, subprocess, sys, benchlib\n"
        "home = os.environ['VIBEIMG_HOME']\n"
        "show = 'import os; print(os.environ[\"VIBEIMG_HOME\"])'\n"
        "child = subprocess.run([sys.executable, '-c', show], capture_output=True,"
        " text=True, env=benchlib.bench_env()).stdout.strip()\n"
        "print(home, child, os.listdir(home), os.environ.get('VIBEIMG_BASE_URL'),"
        " benchlib.bench_env().get('VIBEIMG_HOME') == home)\n"
    )
    env = {**os.environ, "VIBEIMG_HOME": str(user_home),
           "VIBEIMG_BASE_URL": "https://gateway.example/v1", "PYTHONPATH": str(BENCH)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, check=True)
    home, child, listing, base_url, same = result.stdout.split(" ", 4)
    assert home != str(user_home) and child == home
    assert (listing, base_url, same.strip()) == ("[]", "None", "True")
    assert not Path(home).exists()
    assert not user_home.exists()
