"""vibeimg's version, in a module of its own so that any layer can name it (in sidecars,
the User-Agent, the emulator's header) without importing the package's public API."""

__version__ = "0.1.0"
