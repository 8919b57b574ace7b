"""Gateway operations, one module each: image requests (generations and edits; several
at once, and what Ctrl-C does to them, in ``image_runs``), edits' inputs, the
``/responses`` chat stream, and the ``doctor`` checkup.

A job builds a checked request, sends it through ``vibeimg.wire``, saves what arrives
through ``vibeimg.files`` and reports through callbacks; it never prints.

May import: everything below it (errors, params, settings, wire, files, masks, records).
"""
