"""Batch input: a JSON Lines or plain-text file, parsed and validated as a whole.

A JSON line is an object with ``prompt`` plus any image option of ``generate``
(``model``, ``size``, ``quality``, ``format``, ``compression``, ``moderation``,
``response_format``, ``n``), ``images``/``mask`` for an edit, and ``output`` for the
file name. A plain-text file has one prompt per line. Command-line options are the
defaults; a line's own fields override them.

Every line is checked before anything is sent, and every bad line is reported, with
its number and reason, in one :class:`BatchInputError`. Each :class:`BatchItem` is one
image (one request). Its ``key`` is derived from what is asked (prompt, options, the
input images' content), never from where it sits in the file or where it is saved,
so a rerun recognises finished work even after lines were added or moved.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from vibeimg.errors import UsageError
from vibeimg.files.inputs import open_regular
from vibeimg.files.naming import NamePlan
from vibeimg.params import DEFAULT_MODEL, ImageOptions, check_prompt

FIELDS = (
    "prompt", "model", "size", "quality", "output_format", "output_compression",
    "moderation", "response_format", "n", "images", "mask", "convert_mask", "resize_mask",
    "output",
)
ALIASES = {"format": "output_format", "compression": "output_compression", "image": "images"}
STRING_FIELDS = ("model", "size", "quality", "output_format", "moderation", "response_format")
DEFAULT_NAME = "{line}-{slug}.{ext}"
MAX_COPIES = 100
MAX_INPUT_IMAGES = 16
KEY_VERSION = 1


@dataclass(frozen=True)
class LineProblem:
    """Why one line of the batch file cannot be sent."""

    line: int
    message: str

    def describe(self, source: str) -> str:
        return f"{source}:{self.line}: {self.message}"


class BatchInputError(UsageError):
    """One or more lines are bad: nothing is sent until all are fixed."""

    def __init__(self, source: str, problems: list[LineProblem]) -> None:
        count = len(problems)
        super().__init__(
            f"{count} bad line{'s' if count > 1 else ''} in {source}; nothing was sent",
            hint="fix them and rerun; --dry-run checks a file without sending",
        )
        self.source = source
        self.problems = problems


@dataclass(frozen=True)
class BatchDefaults:
    """The command line's options, which every line may override."""

    model: str = DEFAULT_MODEL
    size: str = "auto"
    quality: str = "auto"
    output_format: str = "png"
    compression: int | None = None
    moderation: str = "auto"
    response_format: str = "b64_json"
    output: str = DEFAULT_NAME
    convert_mask: bool = False  # edit lines: turn a black-and-white mask into alpha
    resize_mask: bool = False  # edit lines: scale a mask to the first image's size
    ascii_names: bool = False  # file names in ASCII only (not part of an item's key)

    def options(self) -> ImageOptions:
        """The defaults alone, validated (a bad flag is reported once, not per line)."""
        return ImageOptions.build(
            model=self.model, size=self.size, quality=self.quality,
            output_format=self.output_format, compression=self.compression,
            moderation=self.moderation, response_format=self.response_format,
        )


@dataclass(frozen=True, slots=True)  # slots: a batch holds 10,000 of them
class BatchItem:
    """One image to make: one request, one file, one manifest line."""

    key: str
    line: int
    index: int  # which of the line's ``n`` images, from 1
    count: int  # the line's ``n``
    prompt: str
    options: ImageOptions
    name: str  # the output name template, ``{line}`` filled in
    images: tuple[Path, ...] = ()
    mask: Path | None = None
    convert_mask: bool = False
    resize_mask: bool = False
    ascii_names: bool = False  # name the file in ASCII only; not in the key: a rerun
    # that changes it still finds the files made before

    @property
    def kind(self) -> str:
        return "edit" if self.images else "generate"

    @property
    def endpoint(self) -> str:
        return "images/edits" if self.images else "images/generations"

    def describe(self) -> dict[str, Any]:
        """The item as JSON: what ``--dry-run`` and the summary show."""
        fields: dict[str, Any] = {
            "key": self.key, "line": self.line, "index": self.index, "kind": self.kind,
            "endpoint": self.endpoint, "prompt": self.prompt, "model": self.options.model,
            **self.options.tool_fields(), "response_format": self.options.response_format,
        }
        if self.images:
            fields["images"] = [str(p) for p in self.images]
            fields["mask"] = str(self.mask) if self.mask else None
            if self.mask:
                fields.update(convert_mask=self.convert_mask, resize_mask=self.resize_mask)
        return fields


ItemCheck = Callable[[BatchItem], None]


def detect_format(text: str, source: str, input_format: str = "auto") -> str:
    """``jsonl`` or ``text``: from ``input_format``, the file's suffix, or its first line."""
    if input_format in ("jsonl", "text"):
        return input_format
    suffix = os.path.splitext(source)[1].lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".txt":
        return "text"
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return "jsonl" if first.startswith("{") else "text"


def parse_batch(
    text: str,
    *,
    source: str,
    base_dir: Path,
    defaults: BatchDefaults,
    input_format: str = "auto",
    check: ItemCheck | None = None,
) -> list[BatchItem]:
    """Every item of the file, or BatchInputError listing every bad line.

    Relative ``images``/``mask`` paths are read from ``base_dir`` (the file's folder).
    ``check`` runs on each item too (the request builder), its UsageErrors reported
    like any other line problem.
    """
    kind = detect_format(text, source, input_format)
    parser = _LineParser(defaults, base_dir, check)
    problems: list[LineProblem] = []
    items: list[BatchItem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            fields = _json_fields(raw) if kind == "jsonl" else {"prompt": raw.strip()}
            items.extend(parser.items(number, fields))
        except UsageError as exc:
            problems.append(LineProblem(number, _as_fields(exc).one_line()))
    if problems:
        raise BatchInputError(source, problems)
    if not items:
        raise UsageError(f"{source} has no prompts", hint="one prompt, or one JSON object, a line")
    return items


# A flag, and its value when one ends the phrase ("add --format jpeg", not "--x or").
_FLAG = re.compile(r"--([a-z][a-z-]*)(?: ([a-z0-9]+)(?=$|[,;.)]))?")


def _as_fields(error: UsageError) -> UsageError:
    """The same problem told in a line's terms: ``--format jpeg`` becomes ``"format":
    "jpeg"``, since a batch line has fields, not flags."""
    if not error.hint or "--" not in error.hint:
        return error

    def field(match: re.Match[str]) -> str:
        name = match.group(1).replace("-", "_")
        if name in ("convert_mask", "resize_mask"):
            return f'"{name}": true'
        return f'"{name}": "{match.group(2)}"' if match.group(2) else f'"{name}"'

    return UsageError(error.message, hint=_FLAG.sub(field, error.hint))


def _json_fields(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"bad JSON: {exc}", hint='one object a line: {"prompt": "..."}') from None
    except RecursionError:  # [[[[... a hundred thousand deep
        raise UsageError("bad JSON: nested too deeply",
                         hint='one object a line: {"prompt": "..."}') from None
    if not isinstance(value, dict):
        raise UsageError(f"expected a JSON object, got {type(value).__name__}",
                         hint='one object a line: {"prompt": "..."}')
    fields: dict[str, Any] = {}
    for name, field_value in value.items():
        canonical = ALIASES.get(name, name)
        if canonical not in FIELDS:
            close = difflib.get_close_matches(name, [*FIELDS, *ALIASES], n=1)
            raise UsageError(f"unknown field {name!r}",
                             hint=f"did you mean {close[0]!r}?" if close else
                             f"known fields: {', '.join(FIELDS)} (or format, compression, "
                             "image)")
        if canonical in fields:
            raise UsageError(f"field {canonical!r} given twice ({name!r})")
        fields[canonical] = field_value
    return fields


class _LineParser:
    """Turns one line's fields into items; remembers what it has seen across lines."""

    def __init__(self, defaults: BatchDefaults, base_dir: Path, check: ItemCheck | None) -> None:
        self.defaults = defaults
        self.base_dir = base_dir
        self.check = check
        self.default_options = defaults.options()
        self._file_hashes: dict[Path, str] = {}
        self._occurrences: dict[str, int] = {}
        self._names_checked: set[tuple[str, int, int]] = set()

    def items(self, number: int, fields: dict[str, Any]) -> list[BatchItem]:
        prompt = fields.get("prompt")
        if prompt is None:
            raise UsageError("no prompt", hint='add "prompt": "..."')
        if not isinstance(prompt, str):
            raise UsageError("prompt must be a string")
        if not prompt.strip():
            raise UsageError("the prompt is empty", hint='write it in "prompt": "..."')
        prompt = check_prompt(prompt.strip())
        options = self._options(fields)
        count = _integer(fields, "n", 1)
        if not 1 <= count <= MAX_COPIES:
            raise UsageError(f"n must be between 1 and {MAX_COPIES}, not {count}")
        if fields.get("mask") is not None and not fields.get("images"):
            raise UsageError("a mask needs images to apply to", hint='add "images": ["in.png"]')
        images = self._inputs(fields.get("images"), "images")
        mask_list = self._inputs(fields.get("mask"), "mask")
        mask = mask_list[0] if mask_list else None
        fixes = {name: self._flag(fields, name) for name in ("convert_mask", "resize_mask")}
        if mask is None and any(fields.get(n) for n in fixes):
            raise UsageError("convert_mask and resize_mask need a mask")
        name = self._name(fields.get("output"), number, count)
        basis = self._basis(prompt, options, images, mask, fixes if mask else {})
        items: list[BatchItem] = []
        for index in range(1, count + 1):
            occurrence = self._occurrences.get(basis, 0) + 1
            self._occurrences[basis] = occurrence
            key = hashlib.sha256(f"{basis}:{occurrence}".encode()).hexdigest()[:16]
            item = BatchItem(key=key, line=number, index=index, count=count, prompt=prompt,
                             options=options, name=name, images=images, mask=mask,
                             ascii_names=self.defaults.ascii_names,
                             **(fixes if mask else {}))
            if self.check is not None and index == 1:
                self.check(item)
            items.append(item)
        return items

    def _options(self, fields: dict[str, Any]) -> ImageOptions:
        if not any(name in fields for name in (*STRING_FIELDS, "output_compression")):
            return self.default_options
        values: dict[str, Any] = {}
        for name in STRING_FIELDS:
            value = fields.get(name)
            if value is not None and not isinstance(value, str):
                raise UsageError(f"{name} must be a string, not {json.dumps(value)}")
            default = self.defaults.output_format if name == "output_format" else getattr(
                self.defaults, name)
            values[name] = value if value is not None else default
        compression: int | None
        if "output_compression" in fields:
            compression = _integer(fields, "output_compression", 0)
        else:
            # A default compression does not follow a line that switches to png.
            compression = self.defaults.compression
            if values["output_format"].lower() == "png":
                compression = None
        return ImageOptions.build(compression=compression, **values)

    def _inputs(self, value: Any, name: str) -> tuple[Path, ...]:
        if value is None:
            return ()
        listed = [value] if isinstance(value, str) else value
        if not isinstance(listed, list) or not all(isinstance(v, str) and v for v in listed):
            raise UsageError(f"{name} must be a file path or a list of file paths")
        if name == "mask" and len(listed) != 1:
            raise UsageError("mask must be one file path")
        if len(listed) > MAX_INPUT_IMAGES:
            raise UsageError(f"{len(listed)} images; an edit takes at most {MAX_INPUT_IMAGES}")
        paths = tuple(self.base_dir / v for v in listed)
        for path in paths:
            self._hash_file(path, name)
        return paths

    def _hash_file(self, path: Path, role: str) -> str:
        cached = self._file_hashes.get(path)
        if cached is not None:
            return cached
        digest = hashlib.sha256()
        try:
            with open_regular(path, what=f"{role} file") as file:
                for block in iter(lambda: file.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            raise UsageError(f"cannot read {role} file {path}: {exc.strerror or exc}",
                             hint="paths are relative to the batch file's folder") from None
        self._file_hashes[path] = digest.hexdigest()
        return digest.hexdigest()

    def _name(self, value: Any, number: int, count: int) -> str:
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise UsageError("output must be a file name")
        template = value if value is not None else self.defaults.output
        parts = PurePosixPath(template.replace(os.sep, "/")).parts
        if template == "-" or Path(template).is_absolute() or ".." in parts:
            raise UsageError(f"output {template!r} must be a name inside the output folder",
                             hint="use a relative name such as fox.png or sub/{slug}.{ext}")
        line = f"{number:04d}"
        # Refuses unknown {fields}: checked once per template, count and width of the
        # line number (which all a template's checks depend on), not once per line.
        shape = (template, count, len(line))
        name = template.replace("{line}", line)
        if shape not in self._names_checked:
            try:
                NamePlan.build(template.replace("{line}", "0" * len(line)), None, count=count)
            except UsageError:
                NamePlan.build(name, None, count=count)  # the same refusal, in its own words
                raise
            self._names_checked.add(shape)
        return name

    def _flag(self, fields: dict[str, Any], name: str) -> bool:
        value = fields.get(name)
        if value is None:
            return bool(getattr(self.defaults, name))
        if not isinstance(value, bool):
            raise UsageError(f"{name} must be true or false, not {json.dumps(value)}")
        return value

    def _basis(self, prompt: str, options: ImageOptions, images: tuple[Path, ...],
               mask: Path | None, fixes: dict[str, bool]) -> str:
        """What makes two items the same work: everything that shapes the image."""
        document = {
            "v": KEY_VERSION, "prompt": prompt, "model": options.model,
            **options.tool_fields(),
            "images": [self._file_hashes[p] for p in images],
            "mask": self._file_hashes[mask] if mask else None,
            **fixes,
        }
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _integer(fields: dict[str, Any], name: str, default: int) -> int:
    value = fields.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{name} must be a whole number, not {json.dumps(value)}")
    return value

