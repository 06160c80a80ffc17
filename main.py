"""`python main.py` is the same as `anr-studio`."""

import sys

from anr_studio.cli import main

if __name__ == "__main__":
    sys.exit(main())
