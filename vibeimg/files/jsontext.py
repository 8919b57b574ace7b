"""JSON as vibeimg writes it, for sidecars and stdout alike (kept apart from the sidecar
code so that ``--dry-run`` and ``--json`` import only ``json``)."""

from __future__ import annotations

import json
from typing import Any


def json_text(document: Any) -> str:
    """``document`` as pretty JSON, readable UTF-8 where it can be.

    A file name that is not valid UTF-8 arrives as surrogate escapes (``out\udce9.png``),
    which UTF-8 cannot encode: then every non-ASCII character is written as a JSON
    escape instead, which is still valid JSON, and still the same text once read.
    """
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(document, indent=2, ensure_ascii=True, default=str)
    return text
