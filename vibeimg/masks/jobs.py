"""``mask-convert`` on files: name the outputs, convert, write atomically, use every core.

One mask is converted in the calling process. Many masks go to a process pool: the
work is Pillow decoding and zlib, and the Python between them holds the GIL, so
threads barely help. Workers are forked when this process has a single thread (the
command line: cheapest), and spawned otherwise (forking a threaded process can
deadlock). Workers return plain data; one failure never stops the others.
"""

from __future__ import annotations

import os
import shlex
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from vibeimg.errors import ExitCode, PartialFailure, UsageError, VibeimgError, save_error
from vibeimg.files.atomic import write_atomically
from vibeimg.files.formats import KNOWN_SUFFIXES
from vibeimg.files.imagecheck import TURNED, decode_image, upright
from vibeimg.files.inputs import STDIN, SourceFile, name_taken, read_source
from vibeimg.masks.convert import (
    ConvertedMask,
    MaskStats,
    encode_rgba_png,
    same_aspect,
    to_alpha_mask,
)
from vibeimg.masks.destinations import check_destination

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

#: Below this many masks a pool costs more to start than it saves.
POOL_MIN_JOBS = 4


@dataclass(frozen=True)
class ConvertSettings:
    """What every mask of one run gets."""

    invert: bool = False
    threshold: int | None = None
    from_grey: bool = False
    match: tuple[int, int] | None = None  # resize to these dimensions
    force: bool = False


@dataclass(frozen=True)
class MaskJob:
    source: str  # a path, or "-" for stdin
    destination: str  # a path, or "-" for stdout


@dataclass
class MaskResult:
    """A converted mask: where it went and what it repaints (plain data, picklable)."""

    source: str
    destination: str
    stats: MaskStats
    source_mode: str
    kept_alpha: bool
    bytes: int
    resized_from: tuple[int, int] | None = None
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "input": self.source,
            "output": self.destination,
            "input_mode": self.source_mode,
            "kept_alpha": self.kept_alpha,
            "resized_from": "x".join(map(str, self.resized_from)) if self.resized_from else None,
            "bytes": self.bytes,
            **self.stats.as_json(),
        }


@dataclass
class MaskFailure:
    source: str
    message: str  # the error's one line
    exit_code: int

    def as_json(self) -> dict[str, object]:
        return {"input": self.source, "error": self.message, "exit_code": self.exit_code}


def run_error(done: Sequence[MaskResult], failed: Sequence[MaskFailure]) -> VibeimgError | None:
    """How a run of several masks ends: None when all converted, partial success when
    some failed, else the first failure's own exit code."""
    if not failed:
        return None
    if not done:
        error = VibeimgError(f"all {len(failed)} masks failed; the first: {failed[0].message}")
        error.exit_code = ExitCode(failed[0].exit_code)
        return error
    return PartialFailure(f"{len(done)} of {len(done) + len(failed)} masks converted, "
                          f"{len(failed)} failed", failures=[])


def default_output(source: str) -> str:
    """``scribble.jpg`` -> ``scribble-alpha.png`` beside it; stdin -> stdout."""
    if source == STDIN:
        return STDIN
    path = Path(source)
    return str(path.with_name(f"{path.stem}-alpha.png"))


def plan_jobs(
    inputs: Sequence[str], output: str | None, out_dir: Path | None, *, force: bool,
    output_named: bool = True,
) -> list[MaskJob]:
    """Pair inputs with outputs and refuse, before any work, what would clobber a file.

    ``output_named`` is False when OUTPUT came as the second argument rather than with
    ``-o``: then ``--force`` does not replace an existing image there, which may well be
    a second input given by mistake (``mask-convert a.png b.png --force``).
    """
    if out_dir is not None:
        if output is not None:
            raise UsageError("give either an OUTPUT file or --out-dir, not both",
                             hint="with --out-dir every argument is an input")
        if STDIN in inputs:
            raise UsageError("'-' (stdin) cannot be used with --out-dir",
                             hint="name the files, or convert stdin alone")
        jobs = [MaskJob(s, str(out_dir / f"{Path(s).stem}.png")) for s in inputs]
    else:
        if len(inputs) != 1:
            raise UsageError("several inputs need --out-dir",
                             hint="vibeimg mask-convert a.png b.png --out-dir alpha/")
        jobs = [MaskJob(inputs[0], output or default_output(inputs[0]))]
        if output is not None and output != STDIN:
            _check_png_name(output)
            folder = Path(output).parent
            if not folder.is_dir():
                raise UsageError(f"the folder {folder} of {output} does not exist",
                                 hint=f"create it first (mkdir -p {shlex.quote(str(folder))}) "
                                 "or write the mask elsewhere")
    seen: dict[Path, str] = {}
    for job in jobs:
        if job.destination == STDIN:
            continue
        target = Path(job.destination).resolve()
        if target in seen:
            raise UsageError(f"{seen[target]} and {job.source} would both be written to "
                             f"{job.destination}", hint="rename one of them")
        seen[target] = job.source
        if job.source != STDIN and Path(job.source).resolve() == target:
            raise UsageError(f"converting {job.source} would replace it with its own output",
                             hint="choose another OUTPUT or --out-dir")
        check_destination(job.destination)
        guarded = output is not None and not output_named and _is_image(job.destination)
        if not force and os.path.lexists(job.destination):
            hint = "add --force to overwrite it, or choose another name"
            if guarded:
                hint = (f"to overwrite it, name it with -o and add --force "
                        f"({_command(job.source, job.destination)}), or choose another name")
            if output is not None:
                hint += "; to convert several files, use --out-dir"
            raise UsageError(f"{job.destination} {name_taken(Path(job.destination))}",
                             hint=hint)
        if force and guarded:
            raise UsageError(
                f"{job.destination} is an existing image: --force would overwrite it, and it "
                "may be a second input rather than the output",
                hint=f"to replace it, name it with -o ({_command(job.source, job.destination)}"
                     "); to convert both, use --out-dir")
    return jobs


#: Suffixes of the images Pillow is commonly handed as masks.
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


def _is_image(path: str) -> bool:
    """Whether ``path`` is an existing image: by its first bytes, or by its name."""
    from vibeimg.files.formats import sniff_format  # noqa: PLC0415 - only for --force

    try:
        with Path(path).open("rb") as file:
            head = file.read(16)
    except OSError:
        return False
    return sniff_format(head) is not None or Path(path).suffix.lower() in _IMAGE_SUFFIXES


def _command(source: str, destination: str) -> str:
    return shlex.join(["vibeimg", "mask-convert", source, "-o", destination, "--force"])


def _check_png_name(output: str) -> None:
    """A mask is always a PNG: refuse a name that says it is another kind of image."""
    suffix = Path(output).suffix.lower()
    if suffix in KNOWN_SUFFIXES and KNOWN_SUFFIXES[suffix] != "png":
        raise UsageError(f"{output} would hold a PNG under a {suffix} name: an alpha mask "
                         "is always a PNG", hint=f"name it {Path(output).stem}.png")


def convert_source(source: SourceFile, settings: ConvertSettings) -> tuple[bytes, ConvertedMask]:
    """Decode, convert and encode one mask in memory."""
    image, turned = upright(decode_image(source, what="mask"))
    if settings.match is not None and not same_aspect(image.size, settings.match):
        w, h = image.size
        mw, mh = settings.match
        raise UsageError(
            f"the mask {source.label} is {w}x{h} and cannot be resized to {mw}x{mh}: the "
            "aspect ratios differ",
            hint=f"crop or redraw the mask at {mw}x{mh}",
        )
    converted = to_alpha_mask(
        image, invert=settings.invert, threshold=settings.threshold,
        from_grey=settings.from_grey, size=settings.match,
    )
    if turned:
        converted.notes.insert(0, f"it was {TURNED}")
    return encode_rgba_png(converted.image), converted


def result_for(job: MaskJob, converted: ConvertedMask, nbytes: int) -> MaskResult:
    return MaskResult(
        source=job.source, destination=job.destination, stats=converted.stats,
        source_mode=converted.source_mode, kept_alpha=converted.kept_alpha, bytes=nbytes,
        resized_from=converted.resized_from, notes=converted.notes,
    )


def convert_job(
    job: MaskJob,
    settings: ConvertSettings,
    *,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
) -> MaskResult:
    """Convert one mask (file or stdin) to a file (written atomically) or stdout."""
    source = read_source(job.source, what="mask", stdin=stdin, max_bytes=None)
    data, converted = convert_source(source, settings)
    if job.destination == STDIN:
        if stdout is None:
            raise UsageError("'-' writes the mask to stdout, but stdout is not available")
        stdout.write(data)
        stdout.flush()
    else:
        destination = Path(job.destination)
        try:
            write_atomically(destination, data, overwrite=settings.force)
        except FileExistsError:
            raise UsageError(f"{destination} {name_taken(destination)}",
                             hint="add --force to overwrite it") from None
        except OSError as exc:
            raise save_error(exc, f"the mask {destination}") from exc
    return result_for(job, converted, len(data))


def convert_file(job: MaskJob, settings: ConvertSettings) -> MaskResult | MaskFailure:
    """:func:`convert_job` for a pool: errors come back as data (they cross processes)."""
    try:
        return convert_job(job, settings)
    except VibeimgError as exc:
        return MaskFailure(job.source, exc.one_line(), int(exc.exit_code))


def worker_count(jobs: int, requested: int | None) -> int:
    if requested is not None:
        return max(1, min(requested, jobs))
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, jobs)) if jobs >= POOL_MIN_JOBS else 1


def _executor(workers: int) -> Executor:
    import multiprocessing  # noqa: PLC0415 - only for a pool
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415 - only for many masks

    method = "fork" if threading.active_count() == 1 and os.name == "posix" else "spawn"
    return ProcessPoolExecutor(max_workers=workers,
                               mp_context=multiprocessing.get_context(method))


def convert_files(
    jobs: Sequence[MaskJob],
    settings: ConvertSettings,
    *,
    workers: int = 1,
    on_done: Callable[[MaskResult | MaskFailure], None] | None = None,
) -> list[MaskResult | MaskFailure]:
    """Convert every job, in a pool when ``workers`` > 1; results in input order.

    Ctrl-C (or SIGTERM) raises :class:`ConversionInterrupted` holding every mask that
    was finished, those the pool was writing when it came included.
    """
    results: list[MaskResult | MaskFailure] = []
    order = {job.source: i for i, job in enumerate(jobs)}
    running = _run(jobs, settings, workers)
    try:
        for result in running:
            results.append(result)
            if on_done is not None:
                on_done(result)
    except KeyboardInterrupt as exc:
        # Stopped here (while reporting) or in the pool: either way, the masks the pool
        # was writing are finished and collected before the run ends.
        for result in _finish_after_interrupt(running):
            results.append(result)
            if on_done is not None:
                on_done(result)
        results.sort(key=lambda r: order.get(r.source, 0))
        raise ConversionInterrupted(results) from exc
    return sorted(results, key=lambda r: order.get(r.source, 0))


def _finish_after_interrupt(
    running: Iterator[MaskResult | MaskFailure],
) -> list[MaskResult | MaskFailure]:
    """Interrupt the run where it waits and take what it still hands over."""
    finished: list[MaskResult | MaskFailure] = []
    throw = getattr(running, "throw", None)
    if throw is None:
        return finished
    try:
        finished.append(throw(KeyboardInterrupt()))
        for result in running:
            finished.append(result)
    except (KeyboardInterrupt, StopIteration):
        pass
    return finished


class ConversionInterrupted(Exception):
    """The run was interrupted; ``results`` are the masks finished before it stopped."""

    def __init__(self, results: list[MaskResult | MaskFailure]) -> None:
        super().__init__("interrupted")
        self.results = results


def _run(
    jobs: Sequence[MaskJob], settings: ConvertSettings, workers: int
) -> Iterator[MaskResult | MaskFailure]:
    if workers <= 1 or len(jobs) < 2:
        for job in jobs:
            yield convert_file(job, settings)
        return
    from concurrent.futures import as_completed  # noqa: PLC0415 - only for a pool

    with _executor(workers) as pool:
        futures = [
            pool.submit(convert_file, job, settings) for job in jobs
        ]
        given: set[Future[MaskResult | MaskFailure]] = set()
        try:
            for future in as_completed(futures):
                given.add(future)
                yield future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            pool.shutdown(wait=True)  # the masks being written are finished: report them
            for future in futures:
                if future not in given and future.done() and not future.cancelled() \
                        and future.exception() is None:
                    yield future.result()
            raise
