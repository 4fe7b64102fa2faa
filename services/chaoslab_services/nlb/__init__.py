"""A customer-facing endpoint behind health-checked DNS failover (Route 53 / NLB's role).

``policy`` decides (pure), ``checker`` probes and writes the zone CoreDNS serves, ``target``
is one tiny backend. See services/README.md, "Health-checked failover".
"""
