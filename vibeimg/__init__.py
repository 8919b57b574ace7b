"""vibeimg: image generation from the shell through a gpt-image-2 gateway."""

__version__ = "0.1.0"
