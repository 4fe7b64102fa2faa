"""The lab's Locust file: `locust -f loadtest/chaoslab_loadtest/locustfile.py`.

Customers speaking gRPC to the lab's front doors (see users.py and workflows.py). gRPC is
switched to gevent before anything can create a channel: Locust runs every user as a
greenlet, and a blocking gRPC call would otherwise stall the whole process.
"""

import grpc.experimental.gevent as grpc_gevent

grpc_gevent.init_gevent()

from chaoslab_loadtest.users import CustomerUser  # noqa: E402  (after init_gevent)

__all__ = ["CustomerUser"]
