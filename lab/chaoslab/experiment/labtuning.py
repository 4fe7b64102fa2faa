"""The lab an experiment runs on: the local lab plus the overrides the comparison needs.

The tunings live in `chaoslab.local.tuning`, since `chaoslab up --local --tuning storm`
starts the same lab for an interactive game day; an experiment runs on `storm` unless
`--lab-tuning stock`. The names below are kept for the experiment's modules.
"""

from __future__ import annotations

from chaoslab.local.tuning import STORM_LOAD as DEFAULT_LOAD
from chaoslab.local.tuning import STORM_SERVICES as DEFAULT_SERVICES
from chaoslab.local.tuning import LabTuning

__all__ = ["DEFAULT_LOAD", "DEFAULT_SERVICES", "LabTuning"]
