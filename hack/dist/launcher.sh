#!/bin/sh
# kubectl-imagecache: a Python zipapp behind this launcher (a zip may carry a prefix: zipimport and
# `python -m zipfile -l` read it as is). python3 runs the archive, one interpreter start; when it is
# older than @MINIMUM@, the archive's __main__.py runs this file again with KUBECTL_IMAGECACHE_OLD_PYTHON
# naming it, and the newest of @PYTHONS@ on PATH runs it instead.
# hack/dist/build_zipapp.py fills in the names (setup.cfg's python_requires and classifiers).
if [ -z "${KUBECTL_IMAGECACHE_OLD_PYTHON:-}" ] && command -v python3 >/dev/null 2>&1; then
  exec python3 "$0" "$@"
fi
for python in @PYTHONS@; do
  if command -v "$python" >/dev/null 2>&1; then
    exec "$python" "$0" "$@"
  fi
done
echo "kubectl-imagecache needs Python >= @MINIMUM@ (found ${KUBECTL_IMAGECACHE_OLD_PYTHON:-no python3} on PATH, and none of @PYTHONS@): install Python @MINIMUM@ or newer as python3 or one of those names" >&2
exit 1
