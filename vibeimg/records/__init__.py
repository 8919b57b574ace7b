"""What a run leaves behind besides images: the history database, the transcripts of
conversations (``sessions``), the fields every run document shares (status, exit code,
error), and estimated prices.

May import: ``vibeimg.errors``, ``vibeimg.params``, ``vibeimg.settings``.
"""
