"""cli/exiting: the process ends with sys.exit's code and output, its exit handlers run, its teardown is skipped.

Each case is a real interpreter, since what is checked is how a process ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

# Output buffered as a user's shell leaves it (the test runner's environment may set PYTHONUNBUFFERED).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=ENV, timeout=60, check=False)


# An object left for the teardown to free, which says so from __del__.
LEFT_FOR_TEARDOWN = """
    import sys
    from kubectl_imagecache.cli import exiting
    exiting.install()
    class Loud:
        def __del__(self):
            sys.__stderr__.write("torn down\\n")
    kept = Loud()
"""


def test_the_interpreter_teardown_is_skipped() -> None:
    proc = _python(LEFT_FOR_TEARDOWN + "    exiting.end(0)\n")
    assert proc.returncode == 0, proc.stderr
    assert "torn down" not in proc.stderr


def test_the_exit_code_and_all_buffered_output_survive() -> None:
    proc = _python("""
        import sys
        from kubectl_imagecache.cli import exiting
        exiting.install()
        sys.stdout.write("x" * 1_000_000)   # more than any pipe holds: still buffered when end() is called
        sys.stderr.write("warning: last words")
        exiting.end(3)
    """)
    assert proc.returncode == 3
    assert len(proc.stdout) == 1_000_000
    assert proc.stderr == "warning: last words"


def test_exit_handlers_registered_later_still_run(tmp_path: Path) -> None:
    # As the Kubernetes client's removal of the key files it wrote from a kubeconfig does.
    marker = tmp_path / "ran"
    proc = _python(f"""
        import atexit
        from kubectl_imagecache.cli import exiting
        exiting.install()
        atexit.register(lambda: open({str(marker)!r}, "w").close())
        exiting.end(4)
    """)
    assert proc.returncode == 4, proc.stderr
    assert marker.exists()


def test_a_reader_that_left_costs_no_message_and_keeps_the_code() -> None:
    code = """
        import sys
        from kubectl_imagecache.cli import exiting
        exiting.install()
        sys.stdin.readline()                # the reader closes its end first
        sys.stdout.write("x" * 1000)        # still in the buffer: the failure comes at the final flush
        exiting.end(5)
    """
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdout.close()
    _, err = proc.communicate("go\n", timeout=60)
    assert proc.returncode == 5
    assert err == ""


def test_leaving_any_other_way_tears_down_as_usual() -> None:
    proc = _python(LEFT_FOR_TEARDOWN + "    sys.exit(6)\n")
    assert proc.returncode == 6
    assert "torn down" in proc.stderr
