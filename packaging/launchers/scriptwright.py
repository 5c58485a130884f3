"""Frozen entry point of the window (`scriptwright`), as pyproject's gui-script `app.ui.main:main`."""

import sys

from app.ui.main import main

if __name__ == "__main__":
    sys.exit(main())
