"""Manual calls to s3: `python -m chaoslab_services.s3.client --help`."""

import sys

from chaoslab_services.common.client import client_main

if __name__ == "__main__":
    sys.exit(client_main("s3"))
