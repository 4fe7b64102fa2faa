"""Manual calls to cloudwatch: `python -m chaoslab_services.cloudwatch.client --help`."""

import sys

from chaoslab_services.common.client import client_main

if __name__ == "__main__":
    sys.exit(client_main("cloudwatch"))
