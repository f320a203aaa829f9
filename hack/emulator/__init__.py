"""The emulated ECI cloud controller for tests and the demo (see emulator.py)."""

from hack.emulator.emulator import Emulator, EmulatorOptions

__all__ = ["Emulator", "EmulatorOptions"]
