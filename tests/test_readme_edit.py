"""The README's edit and mask-convert one-liners run as written, in a real shell."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pictures import bw_mask, photo, save
from PIL import Image

README = Path(__file__).resolve().parent.parent / "README.md"


def shell_blocks(section: str) -> list[str]:
    """The ```sh blocks of one '### ' section of the README."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"### {section}\n")
    end = text.find("\n### ", start + 1)
    body = text[start:end if end != -1 else None]
    return re.findall(r"```sh\n(.*?)```", body, flags=re.DOTALL)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The files the examples name."""
    save(tmp_path / "otter.png", photo((96, 64)))
    save(tmp_path / "lotion.png", photo((40, 40), (200, 200, 10)))
    save(tmp_path / "soap.png", photo((40, 40), (10, 200, 200)))
    save(tmp_path / "candle.webp", photo((40, 40), (200, 10, 200)))
    save(tmp_path / "lounge.jpg", photo((96, 64), (30, 90, 200)))
    save(tmp_path / "scribble.png", bw_mask((96, 64)))
    save(tmp_path / "small-scribble.png", bw_mask((48, 32)))
    (tmp_path / "masks").mkdir()
    for i in range(3):
        save(tmp_path / "masks" / f"m{i}.png", bw_mask((32 + 16 * i, 32)))
    return tmp_path


def run_block(block: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["VIBEIMG_HOME"] = str(home)
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


ARTIFACTS = {
    "vibeimg edit": {"winter.png": "PNG", "mask.png": "RGBA", "add-a-red-scarf.png": "PNG"},
    "vibeimg mask-convert": {"scribble-alpha.png": "RGBA", "alpha.png": "RGBA",
                             "small-scribble-alpha.png": "RGBA", "alpha/m2.png": "RGBA",
                             "piped.png": "RGBA"},
}


@pytest.mark.parametrize("section", list(ARTIFACTS))
def test_readme_examples_run(section: str, workdir: Path, isolated_user_dirs: Path) -> None:
    """Every shell line of the section succeeds offline and leaves real images behind."""
    blocks = shell_blocks(section)
    assert blocks, f"no examples under '### {section}'"
    for block in blocks:
        result = run_block(block, workdir, isolated_user_dirs)
        assert result.returncode == 0, f"{block}\n{result.stderr}"
        assert "Traceback" not in result.stderr
    for name, kind in ARTIFACTS[section].items():
        image = Image.open(workdir / name)
        assert kind in (image.format, image.mode), name
    if section == "vibeimg mask-convert":
        assert Image.open(workdir / "small-scribble-alpha.png").size == (96, 64)
