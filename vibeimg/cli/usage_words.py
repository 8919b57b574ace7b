"""Two of Click's usage errors told the vibeimg way, for the one place errors become exit
codes (:func:`vibeimg.cli.app.exit_code_for`), which imports this only for them: an
unknown option that is really a value starting with a dash (the fix is ``--``) or a
mistyped one (the options close to it, and no others), and a setting's value Click
refused, from a flag or a variable (named as every setting's error names its source).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from difflib import get_close_matches
from typing import Any

from typer import _click  # Typer vendors Click; use its classes, never Click's own

from vibeimg.errors import UsageError

#: What an option's name looks like: ``-x``, ``--name``, ``-qv``. A word Click read
#: as options that has another shape (``-40% off``, ``-a cat``) is a value.
_OPTION_SHAPE = re.compile(r"--?[A-Za-z][A-Za-z0-9_-]*")
#: How close a mistyped option must be to a real one to be suggested (difflib ratio of
#: the names without their dashes): --qualty is --quality, --bogus is not --verbose.
_CLOSE_ENOUGH = 0.7


def unknown_option(error: Exception, ctx: Any, argv: Sequence[str]) -> tuple[str, str] | None:
    """'No such option' with the fix that fits: ``--`` before a value that starts with
    a dash (``vibeimg generate "-40% off"``), else the options close to a mistyped one
    and no others."""
    if not isinstance(error, _click.exceptions.NoSuchOption):
        return None
    name = error.option_name
    word = _word_read_as(name, argv)
    # Only the option's name, not the value after '=' (--style="a b" is an option).
    head = word.partition("=")[0] if word is not None and word[:2] == "--" else word
    if word is not None and head is not None and (
            head[1:2].isdigit() or any(c.isspace() for c in head)
            or not _OPTION_SHAPE.fullmatch(head)):
        what = "a prompt" if any(p.name == "prompt" for p in ctx.command.params) \
            else "an argument"
        return error.message, (f"put -- before {what} that starts with a dash: "
                               f"{ctx.command_path} -- {shlex.quote(word)}")
    names = {option.lstrip("-"): option
             for param in ctx.command.get_params(ctx) if not getattr(param, "hidden", False)
             for option in (*param.opts, *param.secondary_opts) if option.startswith("--")}
    close = get_close_matches(name.lstrip("-"), list(names), n=3, cutoff=_CLOSE_ENOUGH)
    if not close:
        return error.message, ""
    shown = [names[c] for c in close]
    either = f"{', '.join(shown[:-1])} or {shown[-1]}" if len(shown) > 1 else shown[0]
    return f"{error.message}. Did you mean {either}?", ""


def _word_read_as(name: str, argv: Sequence[str]) -> str | None:
    """The command-line word Click read the unknown option ``name`` from: itself,
    ``name=value``, or a cluster of short options (``-40% off`` gives ``-4``)."""
    words = list(argv[:argv.index("--")] if "--" in argv else argv)
    for word in words:
        if word == name or word.startswith(f"{name}="):
            return word
    if len(name) == 2 and name[0] == "-":  # a short option: the first cluster holding it
        for word in words:
            if word[:1] == "-" and word[1:2] != "-" and name[1] in word[1:]:
                return word
    return None


#: The value Click quotes in its own refusal ("'x' is not a valid int.").
_QUOTED = re.compile(r"'(.*)'")
#: Settings checked by vibeimg's own words whatever Click refused of them.
_NUMBERS = ("retries", "timeout")


def invalid_setting(error: Exception, ctx: Any) -> tuple[str, str] | None:
    """A setting's value Click refused, from a flag (``--retries x``, ``--out-dir FILE``)
    or a variable (``VIBEIMG_HISTORY=maybe``), said as every setting's error says it:
    the setting, the value, where it came from, and the fix there."""
    param = getattr(error, "param", None)
    if not isinstance(error, _click.exceptions.BadParameter) or param is None:
        return None
    source = ctx.get_parameter_source(str(param.name))
    flag = max(param.opts, key=len)
    fix_here: str | None = None
    if source == _click.core.ParameterSource.ENVIRONMENT:
        names = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or [])
        variable = next((n for n in names if os.environ.get(n) is not None), None)
        if variable is None:
            return None
        raw: str | None = os.environ[variable]
        origin, fix_here = f"env {variable}", f"fix or unset {variable}"
    elif source == _click.core.ParameterSource.COMMANDLINE and (
            param.name in _NUMBERS or getattr(param.type, "file_okay", True) is False):
        # Only settings: other options' refusals (--show-completion tcsh) say it best.
        quoted = _QUOTED.search(error.message)
        raw, origin = (quoted.group(1) if quoted else None), "flag"
    else:
        return None
    if raw is None:
        return None
    if param.name in _NUMBERS:
        from vibeimg.settings.resolve import check_retries, check_timeout

        try:
            (check_retries if param.name == "retries" else check_timeout)(raw, origin)
        except UsageError as refused:
            return refused.message, refused.hint or ""
    reason: str | None = error.message
    fix: str | None = None
    if isinstance(param.type, _click.types.BoolParamType):
        reason, fix = None, "use true or false"
    elif getattr(param.type, "file_okay", True) is False and "is a file" in error.message:
        reason, fix = "it is a file, not a folder", "name a folder, or a new one to be made"
    where = f"from {flag}" if origin == "flag" else f"from {origin}"
    message = f"invalid {flag.lstrip('-')} {raw!r} ({where})" + (f": {reason}" if reason else "")
    hint = ": ".join(part for part in (fix_here, fix) if part)
    return message, hint
