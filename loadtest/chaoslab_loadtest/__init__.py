"""DNS Chaos Lab load generator: Locust customers speaking gRPC to the lab's front doors.

`locustfile.py` is what `locust -f` gets; `runner.locust_command()` builds that command for
the lab; `workflows` holds the customer actions; `metrics` the Prometheus side.
"""
