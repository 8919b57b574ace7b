"""``vibeimg generate`` end to end against the emulator over loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import TEST_KEY
from vibeimg.errors import ExitCode


def files_in(folder: Path) -> list[str]:
    """Every file name in a folder, hidden temporary files included."""
    return sorted(p.name for p in folder.iterdir())


def test_saves_png_and_prints_its_path(cli, emulator, tmp_path: Path) -> None:
    """One prompt gives one PNG on disk, its path alone on stdout."""
    result = cli("generate", "a red fox", "--size", "1024x1024")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "a-red-fox.png\n"
    image = Image.open(tmp_path / "a-red-fox.png")
    assert image.format == "PNG" and image.size == (1024, 1024)
    sent = emulator.api_requests()[0].json()
    assert sent["prompt"] == "a red fox" and sent["model"] == "gpt-image-2"
    assert "n" not in sent


def test_sidecar_records_prompt_parameters_usage_and_cost(cli, emulator, tmp_path) -> None:
    """NAME.json beside the image holds prompt, parameters, size, usage, request id, cost."""
    result = cli("generate", "a lighthouse", "--size", "1536x1024", "--quality", "low")
    assert result.exit_code == 0, result.stderr
    sidecar = json.loads((tmp_path / "a-lighthouse.json").read_text())
    assert sidecar["prompt"] == "a lighthouse"
    assert sidecar["parameters"]["size"] == "1536x1024"
    assert sidecar["parameters"]["quality"] == "low"
    assert sidecar["size"] == "1536x1024"
    assert sidecar["estimated_cost_usd"] == 0.005
    assert sidecar["usage"]["output_tokens"] > 0
    assert sidecar["request_id"] == emulator.api_requests()[0].request_id
    assert sidecar["file"] == "a-lighthouse.png"


def test_no_sidecar(cli, tmp_path) -> None:
    """--no-sidecar writes the image alone."""
    assert cli("generate", "fox", "--no-sidecar").exit_code == 0
    assert files_in(tmp_path) == ["fox.png"]


def test_prompt_from_stdin_and_from_file(cli, emulator, tmp_path) -> None:
    """'-' reads the prompt from stdin; --prompt-file reads it from a file."""
    assert cli("generate", "-", input="a blue whale\n").stdout == "a-blue-whale.png\n"
    (tmp_path / "p.txt").write_text("a green frog\n")
    assert cli("generate", "--prompt-file", "p.txt").stdout == "a-green-frog.png\n"
    prompts = [r.json()["prompt"] for r in emulator.api_requests()]
    assert prompts == ["a blue whale", "a green frog"]


def test_never_overwrites_without_force(cli, tmp_path) -> None:
    """An existing name gets -2, -3...; --force replaces it."""
    (tmp_path / "fox.png").write_bytes(b"keep me")
    assert cli("generate", "fox").stdout == "fox-2.png\n"
    assert cli("generate", "fox").stdout == "fox-3.png\n"
    assert (tmp_path / "fox.png").read_bytes() == b"keep me"
    assert cli("generate", "fox", "--force").stdout == "fox.png\n"
    assert (tmp_path / "fox.png").read_bytes().startswith(b"\x89PNG")


def test_force_keeps_a_json_file_of_the_same_name(cli, tmp_path) -> None:
    """--force replaces images and their sidecars, not a project's package.json."""
    (tmp_path / "package.json").write_text('{"name": "my-app"}\n')
    result = cli("generate", "logo", "-o", "package.png", "--force")
    assert result.exit_code == 0 and result.stdout == "package-2.png\n"
    assert (tmp_path / "package.json").read_text() == '{"name": "my-app"}\n'
    again = cli("generate", "logo", "-o", "package-2.png", "--force")
    assert again.stdout == "package-2.png\n"  # its own sidecar is replaced as asked
    assert sorted(p.name for p in tmp_path.glob("package*")) == [
        "package-2.json", "package-2.png", "package.json"]


def test_fields_in_the_folders_of_the_output_name(cli, tmp_path) -> None:
    """-o "{quality}/{size}/{slug}.{ext}" makes those folders, not ones named {quality}."""
    result = cli("generate", "a fox", "--quality", "low", "--size", "1024x1024",
                 "-o", "shots/{quality}/{size}/{slug}.{ext}")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "shots/low/1024x1024/a-fox.png\n"
    assert (tmp_path / "shots/low/1024x1024/a-fox.json").is_file()
    assert not any("{" in str(p) for p in tmp_path.rglob("*"))


def test_extension_follows_the_format_asked_for(cli, tmp_path) -> None:
    """-o out.png --format jpeg saves out.jpg with a neutral note: the user asked for a
    JPEG, the gateway is not to blame."""
    result = cli("generate", "fox", "--format", "jpeg", "-o", "out.png")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "out.jpg\n"
    assert Image.open(tmp_path / "out.jpg").format == "JPEG"
    assert result.stderr == ("saved as out.jpg (--format jpeg makes a JPEG image, and the "
                             "name follows the bytes)\n")


def test_a_sidecar_name_taken_is_said(cli, tmp_path) -> None:
    """out.png and out-2.png exist: -o out.png --format jpeg must pass over out.json and
    out-2.json (their sidecars), and says why it saved out-3.jpg."""
    for _ in range(2):
        assert cli("generate", "fox", "-o", "out.png").exit_code == 0
    result = cli("generate", "fox", "--format", "jpeg", "-o", "out.png")
    assert result.stdout == "out-3.jpg\n"
    assert "warning" not in result.stderr
    assert result.stderr == ("saved as out-3.jpg (--format jpeg makes a JPEG image, and the "
                             "name follows the bytes; out.json is the sidecar of out.png)\n")
    plain = cli("generate", "fox", "-o", "out.jpg", "-F", "jpeg")  # the same rule, said so
    assert plain.stdout == "out-4.jpg\n"
    assert plain.stderr == "saved as out-4.jpg (out.json is the sidecar of out.png)\n"


def test_a_format_other_than_asked_blames_the_gateway(make_cli, tmp_path) -> None:
    """When the gateway sends another format than the one asked for, that is a warning."""
    served = tmp_path / "served.jpg"
    Image.new("RGB", (1024, 1024), "red").save(served, format="JPEG")
    cli = make_cli(image_file=served)
    result = cli("generate", "fox", "-o", "out.png")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "out.jpg\n"
    assert result.stderr == ("warning: saved as out.jpg (the gateway sent jpeg, not the png "
                             "asked for)\n")


def test_output_template_and_out_dir(cli, tmp_path) -> None:
    """-o templates fill {slug} {n} {quality} {ext}; --out-dir is created."""
    result = cli("generate", "Café au lait!", "-n", "2", "--quality", "low",
                 "--out-dir", "shots", "-o", "{slug}_{quality}_{n}.{ext}")
    assert result.exit_code == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == [  # in the order they land
        "shots/café-au-lait_low_1.png", "shots/café-au-lait_low_2.png"]


def test_webp_with_compression(cli, emulator, tmp_path) -> None:
    """--format webp --compression 30 is sent as such and saved as .webp."""
    result = cli("generate", "fox", "--format", "webp", "--compression", "30")
    assert result.stdout == "fox.webp\n"
    assert Image.open(tmp_path / "fox.webp").format == "WEBP"
    assert emulator.api_requests()[0].json()["output_compression"] == 30


def test_data_uri_response_format_is_decoded(cli, emulator, tmp_path) -> None:
    """--response-format url gets a data URI, decoded to the same kind of file."""
    result = cli("generate", "fox", "--response-format", "url", "--format", "jpeg")
    assert result.stdout == "fox.jpg\n"
    assert Image.open(tmp_path / "fox.jpg").format == "JPEG"
    assert emulator.api_requests()[0].json()["response_format"] == "url"


def test_raw_bytes_to_stdout(cli, tmp_path) -> None:
    """-o - writes the image bytes to stdout and nothing to disk."""
    result = cli("generate", "fox", "-o", "-")
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"\x89PNG\r\n\x1a\n")
    assert files_in(tmp_path) == []


def test_json_document(cli, emulator) -> None:
    """--json prints one document with every image, its path and request id."""
    result = cli("generate", "fox", "-n", "2", "--json")
    doc = json.loads(result.stdout)
    assert doc["requested"] == 2 and doc["failures"] == []
    assert sorted(i["path"] for i in doc["images"]) == ["fox-1.png", "fox-2.png"]
    ids = {r.request_id for r in emulator.api_requests()}
    assert {i["request_id"] for i in doc["images"]} == ids


def test_count_sends_concurrent_requests(cli, emulator) -> None:
    """-n 3 sends three requests (the gateway ignores n) and saves three images."""
    result = cli("generate", "fox", "-n", "3", "--concurrency", "3")
    assert sorted(result.stdout.splitlines()) == ["fox-1.png", "fox-2.png", "fox-3.png"]
    assert len(emulator.api_requests()) == 3


def test_dry_run_sends_nothing_and_masks_the_key(cli, emulator) -> None:
    """--dry-run prints the request with the key masked and the cost; nothing is sent."""
    result = cli("generate", "fox", "-n", "2", "--quality", "low", "--size", "square",
                 "--dry-run")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["request"]["body"]["prompt"] == "fox"
    assert doc["estimated_cost_usd"] == 0.012
    assert TEST_KEY not in result.stdout and TEST_KEY[-4:] in result.stdout
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "1000x1000"], "multiples of 16"),
        (["--size", "4096x1024"], "at most 3840"),
        (["--size", "3840x1248"], "3 times"),
        (["--size", "800x800"], "at least 655,360"),
        (["--size", "3840x2176"], "at most 8,294,400"),
        (["--compression", "50"], "only applies to jpeg and webp"),
        (["--format", "jpeg", "--compression", "150"], "between 0 and 100"),
        (["--quality", "ultra"], "invalid quality"),
        (["-o", "{bogus}.png"], "unknown field {bogus}"),
    ],
)
def test_bad_options_are_refused_before_sending(cli, emulator, tmp_path, args, message) -> None:
    """Each invalid option: one line on stderr, usage exit code, no request, no file."""
    result = cli("generate", "fox", *args)
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
    assert emulator.requests == []
    assert files_in(tmp_path) == []


def test_empty_prompt_is_refused(cli, emulator) -> None:
    """An empty prompt is a usage error and sends nothing."""
    result = cli("generate", "  ")
    assert result.exit_code == ExitCode.USAGE and "prompt is empty" in result.stderr
    assert emulator.requests == []


def test_missing_key_names_the_variable_and_offline(cli, emulator) -> None:
    """Without a key the error names VIBEIMG_API_KEY and --offline; nothing is sent."""
    result = cli("generate", "fox", key=None)
    assert result.exit_code == ExitCode.USAGE
    assert "VIBEIMG_API_KEY" in result.stderr and "--offline" in result.stderr
    assert emulator.requests == []


@pytest.mark.parametrize("out_dir", ["afile", "afile/sub", "/proc/vibeimg-cannot-be-here",
                                     "/proc"])
def test_output_folder_that_cannot_be_used(cli, emulator, tmp_path, out_dir) -> None:
    """A file, a folder under a file, an uncreatable folder, or one where no file can be
    made (even by root, whom every permission check lets through) is refused before sending."""
    (tmp_path / "afile").write_text("x")
    result = cli("generate", "fox", "--out-dir", out_dir)
    assert result.exit_code == ExitCode.USAGE
    assert "--out-dir" in result.stderr
    assert emulator.requests == []


def test_stdout_output_refuses_several_images(cli, emulator) -> None:
    """-o - with -n 2 is refused: raw bytes of two images cannot share stdout."""
    result = cli("generate", "fox", "-o", "-", "-n", "2")
    assert result.exit_code == ExitCode.USAGE and "--count" in result.stderr
    assert emulator.requests == []


def test_stdout_output_refuses_json(cli, emulator, tmp_path) -> None:
    """-o - with --json is refused before sending: image bytes and JSON cannot share stdout."""
    result = cli("generate", "fox", "-o", "-", "--json")
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout_bytes == b""
    [line] = result.stderr.splitlines()
    assert "-o - and --json both write to stdout" in line and "-o NAME" in line
    assert emulator.requests == [] and files_in(tmp_path) == []


def test_stdin_prompt_refused_when_both_given(cli, emulator, tmp_path) -> None:
    """A prompt argument and --prompt-file together are refused."""
    (tmp_path / "p.txt").write_text("x")
    result = cli("generate", "fox", "--prompt-file", "p.txt")
    assert result.exit_code == ExitCode.USAGE and "not both" in result.stderr


def test_unknown_flag_is_one_line_with_usage_code(cli) -> None:
    """A mistyped flag gives one error line pointing at --help, exit 2."""
    result = cli("generate", "fox", "--sise", "square")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.count("\n") == 1 and "--help" in result.stderr


def test_jpg_is_understood_as_jpeg(cli, emulator, tmp_path) -> None:
    """--format jpg, as people type it after the file extension, sends jpeg."""
    result = cli("generate", "a fox", "--format", "jpg", "--quality", "low")
    assert result.exit_code == 0, result.stderr
    assert emulator.api_requests()[0].json()["output_format"] == "jpeg"
    assert result.stdout == "a-fox.jpg\n"


@pytest.mark.parametrize(("output", "folder"), [
    (".", "."), ("..", ".."), ("./", "./"), ("shots/.", "shots/."), ("shots/", "shots/")])
@pytest.mark.parametrize("command", ["generate", "chat-stream"])
def test_an_output_name_that_is_a_folder_is_refused(cli, emulator, tmp_path, output: str,
                                                    folder: str, command: str) -> None:
    """-o . (or .., ./, dir/., dir/) saved a hidden '..png': exit 2, the fix named,
    nothing sent or written."""
    (tmp_path / "shots").mkdir()
    result = cli(command, "a fox", "-o", output)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: the output name '{output}' names a folder, not "
                                    f"a file (use --out-dir {folder} to save in it, or a "
                                    "file name such as -o ")
    assert emulator.requests == []
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["shots"]


def test_an_output_name_of_dots_is_refused(cli, emulator, tmp_path) -> None:
    """-o ... would be the hidden '....png': exit 2, nothing written."""
    result = cli("generate", "a fox", "-o", "...")
    assert result.exit_code == 2 and "is only dots" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extra", [[], ["--dry-run"]])
@pytest.mark.parametrize("command", ["generate", "chat-stream"])
def test_offline_says_it_ignores_the_base_url(cli, emulator, extra: list[str],
                                              command: str) -> None:
    """--offline with --base-url: one warning that the URL is ignored; nothing reaches
    that URL (the test emulator here), the run goes on offline."""
    result = cli(command, "a fox", "--offline", "--base-url", emulator.base_url, *extra,
                 key=None, connect=False)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("warning: --base-url is ignored with --offline: the requests "
                               "go to the built-in emulator; drop one of the two\n") == 1
    assert emulator.requests == []


@pytest.mark.parametrize("sidecar", [[], ["--no-sidecar"]])
def test_force_moves_on_from_a_folder_at_the_output_name(cli, emulator, tmp_path,
                                                         sidecar: list[str]) -> None:
    """--force replaces files, not folders: a folder named fox.png is passed over for
    fox-2.png, the image kept and no sidecar left describing an image that never landed."""
    (tmp_path / "fox.png").mkdir()
    (tmp_path / "fox.png" / "inside.txt").write_text("keep")
    result = cli("generate", "fox", "--force", *sidecar)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "fox-2.png\n"
    assert (tmp_path / "fox.png" / "inside.txt").read_text() == "keep"
    expected = ["fox-2.png", "fox.png"] + ([] if sidecar else ["fox-2.json"])
    assert files_in(tmp_path) == sorted(expected)
    assert len(emulator.api_requests()) == 1


def test_force_keeps_a_dangling_link_at_the_sidecar_name(cli, tmp_path) -> None:
    """A symbolic link named fox.json is another file, live or dangling: --force moves on
    to fox-2.png and leaves the link as it is."""
    (tmp_path / "fox.json").symlink_to(tmp_path / "nowhere.json")
    result = cli("generate", "fox", "--force")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "fox-2.png\n"
    assert (tmp_path / "fox.json").readlink() == tmp_path / "nowhere.json"
    assert not (tmp_path / "nowhere.json").exists()
    assert files_in(tmp_path) == ["fox-2.json", "fox-2.png", "fox.json"]
