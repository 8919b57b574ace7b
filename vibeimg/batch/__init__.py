"""Batches: many images from one file, concurrent, resumable, shardable, reported.

    items     parse and validate the whole file; one BatchItem per image, with its key
    requests  the one place an item becomes an ImageRequest (generate or edit)
    plan      shards, what is already done, what will be sent and cost
    manifest  the append-only record of finished items, and the folder's locks
    records   the manifest's lines: a run's plan, an item's success or failure
    recover   images a killed run saved but did not record; stale sidecars
    limiter   the adaptive concurrency limit that backs off on 429
    verify    what a rerun trusts: each finished item's files, paths inside the folder
    runner    the workers: send, save, record, report progress; Ctrl-C cancels waits
    outcomes  what became of each item and of the run (statuses, the two costs)
    ledger    each item's status and manifest offset, its record read back when asked
    summary   the JSON summary and the exit code
    report    the self-contained HTML report
    merge     join the manifests of a CI matrix's shards

May import: the jobs and everything below them (files, wire, records, settings, params,
errors); never ``vibeimg.cli``, Typer or Rich: progress leaves through callbacks.
"""
