"""Run the emulated ECI cloud controller: ``python -m tests.fakes.emulator --kubeconfig PATH``.

Runs until interrupted (SIGINT/SIGTERM). ``--step-delay`` is the speed knob: the pause between
build steps, so a person watching ``kubectl get imc -w`` sees progress rise.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Optional

from tests.fakes.emulator import gotime
from tests.fakes.emulator.emulator import Emulator, EmulatorOptions


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None,
                        required=not os.environ.get("KUBECONFIG"))
    parser.add_argument("--context", default=None)
    parser.add_argument("--step-delay", type=float, default=0.5, help="seconds between build steps (default 0.5)")
    parser.add_argument("--resync", type=float, default=30.0, help="seconds between full relists (default 30)")
    parser.add_argument("--keep-expired", action="store_true", help="do not delete caches past expireDateTime")
    parser.add_argument("--time-style", default=gotime.MIXED, choices=[gotime.MIXED, *gotime.STYLES],
                        help="how timestamps are written (default: each cache the next style in turn)")
    parser.add_argument("--no-kube-events", action="store_true", help="write status.events only")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    options = EmulatorOptions(step_delay=args.step_delay, resync=args.resync, delete_expired=not args.keep_expired,
                              time_style=args.time_style, kube_events=not args.no_kube_events)
    emulator = Emulator.from_kubeconfig(args.kubeconfig, args.context, options=options)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    emulator.start()
    print(f"imagecache emulator watching {args.kubeconfig} (step delay {args.step_delay}s)", file=sys.stderr,
          flush=True)
    done.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
