"""Pod phases, as the API writes them (core/v1 PodPhase). Pure facts."""

from __future__ import annotations

__all__ = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "UNKNOWN", "ACTIVE_PHASES", "TERMINAL_PHASES"]

PENDING, RUNNING, SUCCEEDED, FAILED, UNKNOWN = "Pending", "Running", "Succeeded", "Failed", "Unknown"
# What a pod uses now or is about to: its images must stay cached.
ACTIVE_PHASES = frozenset({RUNNING, PENDING})
# Such a pod never starts a container again: it neither uses nor pins a cache.
TERMINAL_PHASES = frozenset({SUCCEEDED, FAILED})

