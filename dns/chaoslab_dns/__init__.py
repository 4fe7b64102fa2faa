"""DNS fault engine of the DNS Chaos Lab.

OutageScenario manifests are validated into frozen values (``validate`` -> ``model``), and
the pure compiler (``corefile``) writes every active scenario's faults into the marked
sections of a pristine base Corefile (``basefiles`` renders the local lab's), as rules of
the ``chaoslab`` CoreDNS plugin built in ``dns/coredns``. Only ``command`` does I/O: the
``chaoslab corefile`` subcommand.
"""
