"""``python -m tunehooks``: the same command line as ``tunehooks``."""

from __future__ import annotations

import sys

from tunehooks.cli import main

if __name__ == "__main__":
    sys.exit(main())
