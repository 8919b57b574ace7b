"""The choices of the image options (SPEC.md sections 2 and 4), and nothing else: what
``--help`` shows imports only this; :mod:`vibeimg.params` holds the rules."""

DEFAULT_MODEL = "gpt-image-2"
QUALITIES = ("low", "medium", "high", "auto")
FORMATS = ("png", "jpeg", "webp")
FORMAT_ALIASES = {"jpg": "jpeg"}  # the name people type, as in the file extension
MODERATIONS = ("auto", "low")
RESPONSE_FORMATS = ("b64_json", "url")

SIZE_ALIASES: dict[str, str] = {
    "square": "1024x1024",
    "landscape": "1536x1024",
    "portrait": "1024x1536",
    "2k": "2048x2048",
    "2k-landscape": "2048x1152",
    "4k": "3840x2160",
    "4k-portrait": "2160x3840",
}
SIZE_CHOICES = ("auto", *SIZE_ALIASES, "1024x1024", "1536x1024", "1024x1536")
