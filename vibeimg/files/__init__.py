"""Files on disk: naming outputs, writing them atomically, sidecars, reading inputs.

Nothing here knows HTTP: an image arrives as bytes and leaves as a file that is either
complete or absent.

May import: ``vibeimg.errors``, ``vibeimg.units``, Pillow (lazily, where an image is read).
"""
