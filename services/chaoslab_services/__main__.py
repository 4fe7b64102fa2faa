"""``python -m chaoslab_services``: see cli.py."""

import sys

from chaoslab_services.cli import main

if __name__ == "__main__":
    sys.exit(main())
