"""`python -m app` starts the window (the same as the `scriptwright` command)."""

import sys

from app.ui.main import main

sys.exit(main())
