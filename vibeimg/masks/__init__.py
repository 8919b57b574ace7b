"""Alpha masks: converting black-and-white masks, checking them, ``mask-convert`` jobs.

Local work with Pillow; no request is ever made here.

May import: ``vibeimg.errors``, ``vibeimg.units``, ``vibeimg.files``.
"""
