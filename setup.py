# Only for an older Python: pip runs this while preparing metadata, so `pip install .` on 3.9 says in
# one line what to install (the metadata lives in setup.cfg).
import sys

if sys.version_info < (3, 10):
    found = sys.version.split()[0]
    sys.exit(f"kubectl-imagecache needs Python >= 3.10 (found {found}): install python3.10 or newer")

from setuptools import setup

setup()
