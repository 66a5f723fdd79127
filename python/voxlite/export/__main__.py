"""``python -m voxlite.export FAMILY ...``: see ``voxlite.export``."""
import sys

from . import main

sys.exit(main())
