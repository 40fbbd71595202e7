"""`python -m bot` is the `redline` command."""

import sys

from bot.cli import main

# Guarded: answer processes are spawned, and re-import the main module.
if __name__ == "__main__":
    sys.exit(main())
