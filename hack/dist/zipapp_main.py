# __main__.py of the kubectl-imagecache zipapp (hack/dist/build_zipapp.py copies it in and fills BUILD_ID).
#
# Kept to syntax every python3 >= 3.6 parses, so an old interpreter gets to the check below.
import os
import sys

MINIMUM = "@MINIMUM@"  # setup.cfg's python_requires, filled in by the build
OLD_PYTHON = "KUBECTL_IMAGECACHE_OLD_PYTHON"  # read by the launcher in front of this archive

if sys.version_info < tuple(int(part) for part in MINIMUM.split(".")):
    found = "Python {} at {}".format(sys.version.split()[0], sys.executable)
    if OLD_PYTHON not in os.environ:
        # The shell launcher in front of the archive (hack/dist/launcher.sh) tries python3.X on PATH,
        # newest first, and says what to install when none is there.
        os.environ[OLD_PYTHON] = found
        try:
            os.execv("/bin/sh", ["/bin/sh", sys.argv[0]] + sys.argv[1:])
        except OSError:
            pass
    sys.stderr.write("kubectl-imagecache needs Python >= {} (found {}): install Python {} or newer\n".format(
        MINIMUM, found, MINIMUM))
    sys.exit(1)
os.environ.pop(OLD_PYTHON, None)  # not inherited by what this process starts

BUILD_ID = "@BUILD_ID@"


def _install_bytecode_cache(archive):
    """Keep compiled modules of this archive in the user's cache folder.

    zipimport never writes bytecode, so without this every run compiles click and the plugin from
    source (~0.25 s here), where an installed package reuses its __pycache__. The archive itself
    stays source-only (reproducible, any Python version); the cache is keyed by the build and the
    interpreter, and any failure to read or write it only means compiling again.
    """
    import marshal
    import os
    import zipimport

    try:
        from _frozen_importlib_external import MAGIC_NUMBER  # CPython: already loaded, no import cost
    except ImportError:
        from importlib.util import MAGIC_NUMBER

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    root = os.path.join(base, "kubectl-imagecache", "pyc", BUILD_ID, sys.implementation.cache_tag)
    # The archive path is part of the header: code objects carry their file name for tracebacks.
    header = MAGIC_NUMBER + os.path.abspath(archive).encode("utf-8", "surrogateescape") + b"\0"

    class CachingZipImporter(zipimport.zipimporter):
        def get_filename(self, fullname):
            # zipimport compiles the whole module just to name its file (find_spec asks for the
            # name, exec_module then compiles again); the archive holds sources only, so the name
            # follows from the module name.
            if self.archive != archive:
                return super().get_filename(fullname)
            tail = fullname.rpartition(".")[2]
            suffix = os.sep + "__init__.py" if self.is_package(fullname) else ".py"
            return os.path.join(self.archive, self.prefix + tail + suffix)

        def get_code(self, fullname):
            if self.archive != archive:
                return super().get_code(fullname)
            path = os.path.join(root, fullname + ".pyc")
            try:
                with open(path, "rb") as f:
                    data = f.read()
                if data.startswith(header):
                    return marshal.loads(memoryview(data)[len(header):])
            except (OSError, ValueError, EOFError, TypeError):
                pass
            code = super().get_code(fullname)
            if not sys.dont_write_bytecode:
                tmp = f"{path}.{os.getpid()}.tmp"
                try:
                    os.makedirs(root, exist_ok=True)
                    with open(tmp, "wb") as f:
                        f.write(header + marshal.dumps(code))
                    os.replace(tmp, path)  # readers never see a half-written file
                except OSError:
                    pass
            return code

    # Subpackages are found through sys.path_hooks (their __path__ is inside the archive), the
    # top level through the importer already cached for the archive: replace both.
    sys.path_hooks[:] = [CachingZipImporter if h is zipimport.zipimporter else h for h in sys.path_hooks]
    for key in [k for k in sys.path_importer_cache if k == archive or k.startswith(archive + os.sep)]:
        del sys.path_importer_cache[key]


def _main():
    import os

    archive = sys.path[0]  # as given: zipimport keys its importers by this spelling
    if os.path.isfile(archive):
        _install_bytecode_cache(archive)
    # The same archive answers shell completion: as Cobra programs do, through a hidden first
    # argument `__complete` (what the shipped kubectl_complete-imagecache passes), or when run
    # under kubectl's completion name (a symlink called kubectl_complete-imagecache).
    # Before anything registers an exit handler of its own (see the module).
    from kubectl_imagecache.cli import exiting

    exiting.install()
    if sys.argv[1:2] == ["__complete"]:
        from kubectl_imagecache.cli.completion import main

        exiting.end(main(sys.argv[2:]))
    if os.path.basename(sys.argv[0]).startswith("kubectl_complete-"):
        from kubectl_imagecache.cli.completion import main
    else:
        from kubectl_imagecache.cli.main import main
    exiting.end(main())


_main()
