"""Moved to :mod:`mlpipe_lab.plan.settings` (what a runtime configuration contributes to a plan);
kept for the emitters that do not go through the plan yet (operator nodes)."""

from ..plan.settings import Settings, read_settings  # noqa: F401
