# Only for an older Python: pip runs this while preparing metadata, so `pip install .` on 3.8 says in
# one line what to install (the metadata, python_requires included, lives in setup.cfg).
import configparser
import os
import sys

_cfg = configparser.ConfigParser()
_cfg.read(os.path.join(os.path.dirname(os.path.abspath(__file__)), "setup.cfg"))
_minimum = _cfg["options"]["python_requires"].strip().lstrip(">=")
if sys.version_info < tuple(int(part) for part in _minimum.split(".")):
    found = sys.version.split()[0]
    sys.exit(f"kubectl-imagecache needs Python >= {_minimum} (found {found}): install python{_minimum} or newer")

from setuptools import setup  # noqa: E402

setup()
