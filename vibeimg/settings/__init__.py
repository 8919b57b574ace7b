"""Settings: where each value comes from and whether it is valid.

Order: flag > ``VIBEIMG_*`` environment > config file > ``OPENAI_*`` environment >
default. ``resolve`` builds the connection settings, ``configfile`` reads and writes the
file, ``parsers`` checks one value from any source.

May import: ``vibeimg.errors``, ``vibeimg.params``, ``vibeimg.units``; nothing above.
"""
