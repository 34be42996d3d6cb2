"""``python -m server <command>``: see server/cli.py."""

import sys

from server.cli import main

sys.exit(main())
