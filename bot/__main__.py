"""`python -m bot` is the `redline` command."""

import sys

from bot.cli import main

sys.exit(main())
