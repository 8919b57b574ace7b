"""The command-line layer (Typer): parse, call the core, render."""
