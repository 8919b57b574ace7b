"""The Python API behind ``import vibeimg``: a :class:`~vibeimg.api.client.Client` whose
methods make images and return typed results.

``connect`` opens the gateway (or the in-process emulator, offline) for the API and the
command line alike; ``results`` holds what a run returns; ``client`` composes the jobs;
``sessions`` shows the conversations vibeimg keeps (``Session``).

May import: everything below the command line (jobs, files, masks, records, settings,
wire, the emulator); never ``vibeimg.cli``, Typer or Rich.
"""
