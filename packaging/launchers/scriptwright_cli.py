"""Frozen entry point of the command line (`scriptwright-cli`), as pyproject's script `app.cli:main`."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
