"""The emulated ECI cloud controller for tests and the demo (see emulator.py)."""

from tests.fakes.emulator.emulator import Emulator, EmulatorOptions

__all__ = ["Emulator", "EmulatorOptions"]
