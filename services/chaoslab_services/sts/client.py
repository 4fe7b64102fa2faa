"""Manual calls to STS: `python -m chaoslab_services.sts.client --help`."""

import sys

from chaoslab_services.common.client import client_main

if __name__ == "__main__":
    sys.exit(client_main("sts"))
