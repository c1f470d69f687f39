"""Entry point: `python -m bot [run|route|check-config|health]`."""

import sys

from bot.cli import main

sys.exit(main())
