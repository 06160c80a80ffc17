"""`python -m anr_studio.cli` == `anr-studio`."""

import sys

from anr_studio.cli import main

sys.exit(main())
