"""Developer tooling (control-plane build, cloud emulator); not part of the shipped plugin."""
