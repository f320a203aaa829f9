"""Starting a control plane from a test: a failure with the fix, never a skip (tests/fakes/controlplane.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes import controlplane
from tests.fakes.controlplane import ControlPlane


def start_control_plane(**kw: Any) -> ControlPlane:
    """``controlplane.start(**kw)``, or fail the test saying what is missing and how to build it."""
    try:
        return controlplane.start(**kw)
    except controlplane.ControlPlaneError as e:
        pytest.fail(f"control plane unavailable: {e}", pytrace=False)
