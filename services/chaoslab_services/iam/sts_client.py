"""Manual calls to STS (served by the IAM process): `python -m chaoslab_services.iam.sts_client`."""

import sys

from chaoslab_services.common.client import client_main

if __name__ == "__main__":
    sys.exit(client_main("sts"))
