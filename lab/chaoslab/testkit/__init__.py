"""Harnesses for the tests and benchmarks: real binaries on loopback, started the lab's way.

They live here, in the lab's package (the one layer that may import every component), so
that component packages carry no test scaffolding; production code imports none of it.
"""
