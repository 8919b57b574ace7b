"""Gateway operations, one module each: image requests (generations and edits), edits'
inputs, the ``/responses`` chat stream, and the ``doctor`` checkup.

A job builds a checked request, sends it through ``vibeimg.wire``, saves what arrives
through ``vibeimg.files`` and reports through callbacks; it never prints.

May import: everything below it (errors, params, settings, wire, files, masks, records).
"""
