"""``python -m export FAMILY ...``: see ``export``."""
import sys

from . import main

sys.exit(main())
