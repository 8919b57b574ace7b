"""Entry point for ``python -m vibeimg``."""

from vibeimg.cli.app import main

if __name__ == "__main__":
    main()
