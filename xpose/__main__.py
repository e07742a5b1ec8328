"""``python -m xpose``: the same command line as the ``xpose`` script."""

from __future__ import annotations

import sys

from xpose.cli import main

if __name__ == "__main__":
    sys.exit(main())
