"""Shell completions: the shipped scripts match the CLI, and completion offers the right words."""

from __future__ import annotations

from pathlib import Path

import pytest

from vibeimg.cli.completions import SHELLS, generate_script, main, script_name, write_scripts
from vibeimg.settings.configfile import SETTINGS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("shell", SHELLS)
def test_shipped_script_matches_the_cli(shell: str) -> None:
    """completions/ holds exactly what the CLI generates (python -m vibeimg.cli.completions)."""
    shipped = ROOT / "completions" / script_name(shell)
    assert shell in shipped.name
    assert shipped.read_text(encoding="utf-8") == generate_script(shell), (
        "completions/ is stale: run 'python -m vibeimg.cli.completions'"
    )


def _bash(cli, line: str) -> list[str]:
    """What bash completion offers for ``line`` (the word under the cursor is the last)."""
    words = line.split(" ")
    result = cli(env={"_VIBEIMG_COMPLETE": "complete_bash", "COMP_WORDS": line,
                      "COMP_CWORD": str(len(words) - 1)})
    assert result.exit_code == 0, result.stderr
    return [word for word in result.stdout.splitlines() if word]


def test_commands_complete(cli) -> None:
    """The first word completes to the commands."""
    offered = _bash(cli, "vibeimg ")
    for name in ("generate", "preview", "doctor", "config", "history", "mock-server"):
        assert name in offered
    assert _bash(cli, "vibeimg hi") == ["history"]


@pytest.mark.parametrize(("line", "expected"), [
    ("vibeimg generate --quality ", ["low", "medium", "high", "auto"]),
    ("vibeimg generate --format ", ["png", "jpeg", "webp"]),
    ("vibeimg generate --moderation ", ["auto", "low"]),
    ("vibeimg generate --size 4", ["4k", "4k-portrait"]),
    ("vibeimg generate --size ", ["auto", "square", "landscape", "portrait", "2k",
                                  "2k-landscape", "4k", "4k-portrait", "1024x1024",
                                  "1536x1024", "1024x1536"]),
    ("vibeimg preview --protocol ", ["auto", "kitty", "iterm", "blocks"]),
    ("vibeimg config set q", ["quality"]),
    ("vibeimg config set format ", ["png", "jpeg", "webp"]),
    ("vibeimg history --command ", ["generate", "edit", "chat-stream", "batch"]),
])
def test_option_values_complete(cli, line: str, expected: list[str]) -> None:
    """Choices complete for --size, --quality, --format, --moderation and friends."""
    assert _bash(cli, line) == expected


def test_every_setting_completes_and_is_named_in_help(cli) -> None:
    """config completes and lists every setting of the config file, ascii-names included."""
    names = [spec.name for spec in SETTINGS]
    assert _bash(cli, "vibeimg config set ") == names
    assert _bash(cli, "vibeimg config get as") == ["ascii-names"]
    assert _bash(cli, "vibeimg config set ascii-names ") == ["true", "false"]
    shown = cli("config", "set", "--help").stdout
    assert ", ".join(names) in " ".join(shown.split())


def test_image_paths_complete(cli, tmp_path: Path) -> None:
    """Image arguments complete to image files and folders, not other files."""
    for name in ("a.png", "b.JPG", "notes.txt", ".hidden.png"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "shots").mkdir()
    (tmp_path / "shots" / "c.webp").write_bytes(b"x")
    assert _bash(cli, "vibeimg preview ") == ["a.png", "b.JPG", "shots/"]
    assert _bash(cli, "vibeimg preview shots/") == ["shots/c.webp"]
    assert _bash(cli, "vibeimg preview a.png sh") == ["shots/"]
    assert _bash(cli, "vibeimg preview .h") == [".hidden.png"]
    assert _bash(cli, "vibeimg preview nothing-like-this") == []


def test_zsh_and_fish_protocols(cli, tmp_path: Path) -> None:
    """zsh gets _arguments (or _files when nothing matches); fish gets one word a line."""
    zsh = cli(env={"_VIBEIMG_COMPLETE": "complete_zsh",
                   "_TYPER_COMPLETE_ARGS": "vibeimg generate --format "})
    assert zsh.stdout.startswith("_arguments") and '"jpeg"' in zsh.stdout
    none = cli(env={"_VIBEIMG_COMPLETE": "complete_zsh",
                    "_TYPER_COMPLETE_ARGS": "vibeimg preview zzz"})
    assert none.stdout.strip() == "_files"
    fish = cli(env={"_VIBEIMG_COMPLETE": "complete_fish", "_TYPER_COMPLETE_FISH_ACTION": "get-args",
                    "_TYPER_COMPLETE_ARGS": "vibeimg generate --moderation "})
    assert fish.stdout.split() == ["auto", "low"]


def test_regenerating_writes_every_shell(tmp_path: Path) -> None:
    """The regeneration script writes one file per shell, named after it."""
    written = write_scripts(tmp_path)
    assert sorted(p.name for p in written) == ["vibeimg.bash", "vibeimg.fish", "vibeimg.zsh"]
    assert "complete -o default -F _vibeimg_completion vibeimg" in written[0].read_text()


def test_the_regeneration_script_has_help_and_writes_nothing_for_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """'--help' is help, not a folder named --help."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0 and "completion scripts" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []
