"""The first things a newcomer types: 'vibeimg' alone, commands with nothing, help, completion."""

from __future__ import annotations

import shlex

import pytest

from vibeimg.cli.commands import COMMANDS

#: Each command that cannot run without input, and what it says is missing.
NEEDS_INPUT = [
    ("generate", "Missing argument 'PROMPT'."),
    ("edit", "Missing argument 'PROMPT'."),
    ("chat-stream", "Missing argument 'PROMPT'."),
    ("mask-convert", "Missing argument 'INPUT...'."),
    ("batch", "Missing argument 'FILE'."),
    ("batch-merge", "Missing argument 'SOURCE...'."),
    ("preview", "Missing argument 'IMAGE...'."),
    ("config", "Missing command: one of set, get, unset, list, path."),
]


def test_vibeimg_alone_prints_the_help_and_succeeds(cli) -> None:
    """'vibeimg' with nothing prints the whole help on stdout and exits 0."""
    result = cli()
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: vibeimg [OPTIONS] COMMAND [ARGS]...")
    assert "Commands:" in result.stdout and "generate" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(("command", "missing"), NEEDS_INPUT)
def test_a_command_without_its_input_shows_usage_and_what_is_missing(
        cli, emulator, command: str, missing: str) -> None:
    """A command run with nothing: its usage line, then one error line naming what is
    missing, exit 2, nothing on stdout and nothing sent."""
    result = cli(command)
    assert result.exit_code == 2
    assert result.stdout == ""
    usage, error = result.stderr.splitlines()
    assert usage.startswith(f"Usage: vibeimg {command} [OPTIONS]")
    assert error.startswith(f"error: {missing}")
    assert error.endswith(f"(see 'vibeimg {command} --help')")
    assert emulator.requests == []


def test_the_missing_prompt_says_how_to_give_one(cli) -> None:
    """'vibeimg generate' alone names the three ways to give the prompt."""
    error = cli("generate").stderr.splitlines()[-1]
    assert "'-' to read it from stdin, or --prompt-file FILE" in error


def test_a_missing_argument_of_a_subcommand_shows_its_usage(cli) -> None:
    """'vibeimg history show' without an id: its usage, then the missing ID."""
    result = cli("history", "show")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Usage: vibeimg history show [OPTIONS] ID|SESSION",
        "error: Missing argument 'ID|SESSION'. (see 'vibeimg history show --help')"]


@pytest.mark.parametrize("command", [*COMMANDS, "config set", "config get", "history show",
                                     "history search", "history cost"])
def test_usage_lines_have_no_braces(cli, command: str) -> None:
    """Usage lines read 'FILE' and 'IMAGE...', never Typer's '{FILE}'."""
    usage = cli(*command.split(), "--help").stdout.splitlines()[0]
    assert usage.startswith(f"Usage: vibeimg {command}")
    assert "{" not in usage and "}" not in usage


def test_help_alone_is_the_top_level_help(cli) -> None:
    """'vibeimg help' prints what 'vibeimg --help' prints, and exits 0."""
    result = cli("help")
    assert result.exit_code == 0
    assert result.stdout == cli("--help").stdout
    assert "help " in result.stdout  # listed among the commands


@pytest.mark.parametrize("words", [["generate"], ["batch"], ["config"], ["config", "set"],
                                   ["history", "search"], ["help"]])
def test_help_command_is_the_command_help(cli, words: list[str]) -> None:
    """'vibeimg help X Y' prints what 'vibeimg X Y --help' prints."""
    result = cli("help", *words)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == cli(*words, "--help").stdout
    assert result.stdout.startswith(f"Usage: vibeimg {' '.join(words)} ")


@pytest.mark.parametrize(("words", "error"), [
    (["genrate"], "error: No such command 'genrate'. Did you mean 'generate'?"),
    (["history", "serch"], "error: No such command 'serch'. Did you mean 'search'?"),
    (["nothing-like-it"], "error: No such command 'nothing-like-it'."),
    (["generate", "more"], "error: 'vibeimg generate' has no subcommands, so no 'more'"),
])
def test_help_for_an_unknown_command_is_a_usage_error(cli, words: list[str], error: str) -> None:
    """'vibeimg help genrate': exit 2 and one line, with the closest name."""
    result = cli("help", *words)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(error)


@pytest.mark.parametrize(("shell", "start"), [
    ("fish", "complete --command vibeimg"),
    ("zsh", "#compdef vibeimg"),
    ("bash", "_vibeimg_completion() {"),
])
@pytest.mark.parametrize("spelling", ["separate", "equals"])
def test_show_completion_prints_the_named_shells_script(cli, shell: str, start: str,
                                                       spelling: str) -> None:
    """'--show-completion fish' prints fish's script (as source_fish does), not bash's."""
    args = ["--show-completion", shell] if spelling == "separate" else [
        f"--show-completion={shell}"]
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().startswith(start)
    source = cli(env={"_VIBEIMG_COMPLETE": f"source_{shell}"}).stdout
    assert result.stdout.strip() == source.strip()


def test_show_completion_for_an_unknown_shell_is_a_usage_error(cli) -> None:
    """A shell vibeimg cannot complete for: exit 2 and the shells it can."""
    result = cli("--show-completion", "tcsh")
    assert result.exit_code == 2
    assert "no completion for 'tcsh': name one of bash, zsh, fish" in result.stderr


def test_zsh_descriptions_keep_their_apostrophes(cli) -> None:
    """zsh reads the answer inside single quotes: "a batch's shards" must not become
    "a batchs shards" (shlex splits as zsh does without RC_QUOTES)."""
    answer = cli(env={"_VIBEIMG_COMPLETE": "complete_zsh",
                      "_TYPER_COMPLETE_ARGS": "vibeimg "}).stdout
    words = shlex.split(answer)
    assert words[0] == "_arguments"
    assert "a batch's shards" in words[1]
    assert "batchs" not in words[1]
