"""Manual calls to kms: `python -m chaoslab_services.kms.client --help`."""

import sys

from chaoslab_services.common.client import client_main

if __name__ == "__main__":
    sys.exit(client_main("kms"))
