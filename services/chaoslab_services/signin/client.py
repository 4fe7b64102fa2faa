"""Manual calls to the console sign-in: `python -m chaoslab_services.signin.client --help`."""

import sys

from chaoslab_services.common.client import client_main

if __name__ == "__main__":
    sys.exit(client_main("signin"))
