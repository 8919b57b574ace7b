"""The command-line layer (Typer): parse, call the core, render.

One module per command, registered lazily in ``app`` so that ``--help`` loads only what
it shows; ``app.main`` maps every error to its exit code, in one place. Commands import
what they run inside their functions.

May import: anything in the package. Nothing else imports it (but ``__main__``).
"""
