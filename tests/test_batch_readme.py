"""The README's batch section works as written: its shell lines and its CI workflow."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("### vibeimg batch\n")
    end = text.index("\n## ", start)
    return text[start:end]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), flags=re.DOTALL)


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_shell_examples_run_offline(tmp_path: Path) -> None:
    """The sh block runs as is: a plan, a batch with an edit line and its report, a rerun."""
    (script,) = blocks("sh")
    result = bash(script, tmp_path)
    assert result.returncode == 0, result.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["to_send"] == 5 and plan["estimated_cost_usd"] <= 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["done"], summary["failed"]) == (5, 0)
    again = json.loads((tmp_path / "again.json").read_text())
    assert (again["done"], again["skipped"]) == (0, 5)
    assert json.loads((tmp_path / "foxes.json").read_text())["done"] == 2
    assert (tmp_path / "shots" / "report.html").is_file()
    assert (tmp_path / "shots" / "lighthouse-1.png").is_file()
    assert (tmp_path / "shots" / "0002-a-heron-in-the-fog.jpg").is_file()
    assert summary["outcomes"][-1]["kind"] == "edit"


def test_the_workflow_commands_shard_and_merge(tmp_path: Path) -> None:
    """The workflow's run lines, as its pull-request jobs run them: 4 shards, then a merge."""
    (workflow,) = blocks("yaml")
    runs = [line.split("run: ", 1)[1] for line in workflow.splitlines()
            if line.strip().startswith("- run: vibeimg")]
    batch, merge = runs
    prompts = "".join(json.dumps({"prompt": f"tile {i}"}) + "\n" for i in range(8))
    downloads = tmp_path / "images"
    for shard in (1, 2, 3, 4):
        runner = tmp_path / f"runner-{shard}"
        runner.mkdir()
        (runner / "prompts.jsonl").write_text(prompts, encoding="utf-8")
        command = batch.replace("${{ matrix.shard }}", str(shard))
        result = bash(f"OFFLINE=--offline; {command}", runner)
        assert result.returncode == 0, result.stderr
        # upload-artifact of out/ and the summary, then download-artifact merge-multiple
        shutil.copytree(runner / "out", downloads / "out", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".*"))
        shutil.copy(runner / f"summary-{shard}.json", downloads)
    result = bash(merge, tmp_path)
    assert result.returncode == 0, result.stderr
    merged = json.loads((downloads / "merged.json").read_text())
    assert (merged["items"], merged["done"], merged["shards"]) == (8, 8, ["1/4", "2/4", "3/4",
                                                                          "4/4"])
    shard_items = sum(json.loads((downloads / f"summary-{k}.json").read_text())["items"]
                      for k in (1, 2, 3, 4))
    assert shard_items == 8
    assert (downloads / "report.html").is_file()
