"""Images sent to the gateway (edit uploads, ``input_image`` data URIs), decoded whole.

The gateway reads png, jpeg and webp of at most 50 MB (SPEC.md sections 3 and 5). An
image it could not use is refused: bytes of another format, a file cut short, a PNG
whose checksums fail, or a decompression bomb.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

from vibeimg.emulator import contract


def decode(data: bytes) -> Image.Image | None:
    """The image, fully decoded, or None when the gateway could not read it."""
    fmt = contract.sniff_format(data[:16])
    if fmt not in contract.UPLOAD_FORMATS:
        return None
    try:
        with warnings.catch_warnings():
            # The pixel cap below refuses bombs outright; Pillow's warning is noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > contract.MAX_DECODED_PIXELS:
                return None
            image.load()
            if fmt == "png":  # decoding skips the chunks' checksums
                Image.open(io.BytesIO(data)).verify()
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError,
            Image.DecompressionBombError):
        return None
    return image
