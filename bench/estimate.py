#!/usr/bin/env python3
"""Speed of `kubectl imagecache estimate` beside the best peer setups, measured in one run.

One run: a real docker-registry on loopback filled with N images (half multi-platform), a
counting proxy in front of it (bench/latencyproxy, in Go so that its own cost stays out of the
figures), then for the plugin: a cold cache, a warm cache within the TTL and an expired TTL; for
crane (go-containerregistry, built by hack/crane/build.sh): `crane manifest --platform` run 8 at
a time with `xargs -P8`, the fastest way people script it; for skopeo: one `skopeo inspect` per
image, in sequence. Prints wall and CPU times and the requests the registry saw: a Python client
is CPU-bound where crane -P8 waits on round trips, so on a shared VM the CPU column shows which
figure moved with the machine. Figures, not assertions: tests never time.

    python bench/estimate.py [--images 50] [--repeat 5] [--rtt 0,50] [--crane PATH] [--python PATH | --plugin PATH]

Loopback has no network latency, which flatters a sequential client; each `--rtt` value runs the
matrix with the proxy holding every answer back that many milliseconds, as a registry across a
network would.

The plugin measured is what krew installs: the release zipapp (hack/dist/build_zipapp.py, built
into the run's folder), started by the interpreter its `#!/usr/bin/env python3` finds on a stock
system, /usr/bin/python3 (`--python` to choose another, `--plugin` to time another executable,
e.g. a development install), with the user's environment minus PYTHONDONTWRITEBYTECODE, which no
user's shell sets and which would make every run compile the plugin again. One unmeasured pass
runs first: the registry's first answers after filling are slower (Go's runtime and the storage
driver warming up) and whichever row ran first used to pay for it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.oci import fill_many  # noqa: E402
from tests.fakes.registry import start_registry  # noqa: E402

Row = tuple[str, float, float, dict[str, int]]  # label, median wall, median CPU, requests by method
Run = tuple[float, float, dict[str, int]]  # wall, CPU, requests by method


def timed(argv: list[str], env: dict[str, str], stdin: str = "") -> tuple[float, float]:
    """Wall and CPU seconds (user + system, the process and what it waited for, as crane under xargs)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(stdin.encode())  # a list of images: far less than a pipe holds
    proc.stdin.close()
    err = proc.stderr.read()
    proc.stderr.close()
    _, status, usage = os.wait4(proc.pid, 0)  # reaped here, not by Popen, for the child's resource usage
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {argv[0]} failed ({proc.returncode}): {err.decode(errors='replace').strip()[:500]}")
    return elapsed, usage.ru_utime + usage.ru_stime


class LatencyProxy:
    """bench/latencyproxy: counts requests by method and holds every answer back by `delay`."""

    def __init__(self, upstream: str, work: Path) -> None:
        go = shutil.which("go") or "/usr/local/go/bin/go"
        exe = work / "latencyproxy"
        subprocess.run([go, "build", "-trimpath", "-o", str(exe), "."], cwd=Path(__file__).parent / "latencyproxy",
                       check=True, env={**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"})
        self.proc = subprocess.Popen([str(exe), "-upstream", upstream], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.host = self.proc.stdout.readline().split()[-1]

    def _call(self, path: str, method: str = "POST") -> bytes:
        req = urllib.request.Request(f"http://{self.host}{path}", method=method)
        with urllib.request.urlopen(req) as resp:
            return resp.read()

    def reset(self) -> None:
        self._call("/__reset")

    def set_delay(self, seconds: float) -> None:
        self._call(f"/__delay?d={seconds * 1000:g}ms")

    def counts_by_method(self) -> dict[str, int]:
        return dict(json.loads(self._call("/__counts", "GET")))

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def release_plugin(work: Path, python: str) -> list[str]:
    """The zipapp a krew install runs, and the interpreter to start it with."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hack" / "dist"))
    import build_zipapp

    exe = build_zipapp.build(work / "kubectl-imagecache", work / "zipapp-build")
    return [python, str(exe)]


class Bench:
    def __init__(self, proxy: LatencyProxy, images: list[str], repeat: int, work: Path, plugin: list[str]) -> None:
        self.proxy, self.images, self.repeat, self.work = proxy, images, repeat, work
        self.exe = plugin
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env.update({"HOME": str(work), "NO_PROXY": "*"})
        self.env.pop("XDG_CACHE_HOME", None)
        self.rtt = 0.0

    def reset(self) -> None:
        self.proxy.reset()
        self.proxy.set_delay(self.rtt)

    def plugin_once(self, *flags: str, prefill: bool = False, empty: bool = False) -> Run:
        cache = self.work / "cache"
        if empty or prefill:
            shutil.rmtree(cache, ignore_errors=True)
        if prefill:
            timed([*self.exe, "estimate", "--cache-dir", str(cache), *self.images], self.env)
        self.reset()
        argv = [*self.exe, "estimate", "-o", "json", "--cache-dir", str(cache), *flags, *self.images]
        wall, cpu = timed(argv, self.env)
        return wall, cpu, self.proxy.counts_by_method()

    def plugin(self, label: str, *flags: str, prefill: bool = False, empty: bool = False) -> Row:
        return _row(label, [self.plugin_once(*flags, prefill=prefill, empty=empty) for _ in range(self.repeat)])

    def cold_against_crane(self, crane: str) -> tuple[Row, Row, list[float]]:
        """The cold plugin and crane -P8 in turns, so that both meet the same moments of a noisy
        machine (a shared VM drifts by a third within a minute); the ratio is taken per pair."""
        plugin, cranes = [], []
        for _ in range(self.repeat):
            plugin.append(self.plugin_once("--no-cache"))
            cranes.append(self.crane_once(crane))
        ratios = [c[0] / p[0] for p, c in zip(plugin, cranes)]
        return _row("plugin, cold cache", plugin), _row("crane manifest --platform, xargs -P8", cranes), ratios

    def skopeo(self, skopeo: str) -> Row:
        self.reset()
        runs = [timed([skopeo, "inspect", "--tls-verify=false", f"docker://{image}"], self.env)
                for image in self.images]
        return ("skopeo inspect, sequential loop", sum(w for w, _ in runs), sum(c for _, c in runs),
                self.proxy.counts_by_method())

    def crane_once(self, crane: str) -> Run:
        listing = "".join(f"{image}\n" for image in self.images)
        self.reset()
        wall, cpu = timed(["xargs", "-P8", "-n1", crane, "manifest", "--platform", "linux/amd64"], self.env,
                          stdin=listing)
        return wall, cpu, self.proxy.counts_by_method()


def _row(label: str, runs: list[Run]) -> Row:
    """The median wall and CPU of the runs, and the requests of the last (every run sends the same)."""
    return (label, statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), runs[-1][2])


def report(rtt_ms: int, rows: list[Row], ratios: list[float], single: int, multi: int) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"\n== simulated round trip {rtt_ms} ms ==")
    print(f"{'run':<{width}}  {'wall s':>7}  {'CPU s':>6}  {'requests':>8}  by method")
    for label, wall, cpu, by in rows:
        detail = ", ".join(f"{m} {n}" for m, n in sorted(by.items())) or "-"
        print(f"{label:<{width}}  {wall:>7.2f}  {cpu:>6.2f}  {sum(by.values()):>8}  {detail}")
    by_label = {r[0]: r for r in rows}
    cold = rows[0]
    skopeo = next(r for r in rows if r[0].startswith("skopeo"))
    budget = 2 * (single + multi)
    warm = sum(by_label["plugin, warm cache within TTL"][3].values())
    print(f"cold plugin: {statistics.median(ratios):.1f}x faster than crane -P8 (median of {len(ratios)} runs in "
          f"turns; {min(ratios):.1f}-{max(ratios):.1f}x), {skopeo[1] / cold[1]:.1f}x faster than "
          f"the skopeo loop; requests {sum(cold[3].values())} (minimum {budget}: {single} single x2 manifest+config, "
          f"{multi} multi x2 index+manifest); warm {warm} requests; "
          f"expired budget {single + multi} HEAD")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--images", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=5, help="runs per plugin figure; the median is printed")
    ap.add_argument("--rtt", default="0,50", help="comma-separated round trips to simulate, in ms")
    ap.add_argument("--crane", help="crane binary (default: what hack/crane/build.sh built)")
    ap.add_argument("--python", help="interpreter for the release zipapp (default: /usr/bin/python3, else this one)")
    ap.add_argument("--plugin", help="executable to time instead of the release zipapp "
                                     "(e.g. .venv/bin/kubectl-imagecache)")
    args = ap.parse_args()
    python = args.python or ("/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK)
                             else os.path.realpath(sys.executable))
    skopeo = shutil.which("skopeo")
    if not skopeo:
        raise SystemExit("bench: skopeo is missing: apt-get install skopeo")
    crane = args.crane or str(Path(subprocess.run(
        [str(Path(__file__).resolve().parent.parent / "hack" / "crane" / "build.sh"), "--print-dir"],
        capture_output=True, text=True, check=True).stdout.strip()) / "crane")
    if not os.access(crane, os.X_OK):
        raise SystemExit(f"bench: crane is missing at {crane}: run `make crane` (hack/crane/build.sh)")
    work = Path(tempfile.mkdtemp(prefix="imc-bench-"))
    reg = start_registry("plain", fill=False)
    try:
        t0 = time.perf_counter()
        samples = fill_many(reg.client, args.images)
        fill = time.perf_counter() - t0
        proxy = LatencyProxy(reg.url, work)
        images = samples.refs(host=proxy.host)
        multi = sum(1 for p in samples.images.values() if hasattr(p, "manifests"))
        single = len(images) - multi
        print(f"registry: docker-registry 2.8 on loopback behind bench/latencyproxy; {len(images)} images "
              f"({single} single-platform, {multi} multi-platform), filled in {fill:.1f}s")
        plugin = [args.plugin] if args.plugin else release_plugin(work, python)
        print(f"plugin: {' '.join(plugin)}")
        bench = Bench(proxy, images, args.repeat, work, plugin)
        timed([*plugin, "estimate", "--no-cache", *images], bench.env)  # the unmeasured warm-up pass
        for rtt_ms in [int(x) for x in args.rtt.split(",") if x.strip()]:
            bench.rtt = rtt_ms / 1000
            cold, crane_row, ratios = bench.cold_against_crane(crane)
            rows = [
                cold,
                bench.plugin("plugin, first run (empty cache, filled)", empty=True),
                bench.plugin("plugin, warm cache within TTL", prefill=True),
                bench.plugin("plugin, expired TTL (digests unchanged)", "--cache-ttl", "0", prefill=True),
                bench.plugin("plugin, cold cache, --concurrency 8", "--no-cache", "--concurrency", "8"),
                crane_row,
                bench.skopeo(skopeo),
            ]
            report(rtt_ms, rows, ratios, single, multi)
        helps = [timed([*bench.exe, "--help"], bench.env)[0] for _ in range(7)]
        print(f"\nkubectl-imagecache --help: median {statistics.median(helps):.3f}s, best {min(helps):.3f}s "
              f"over {len(helps)} runs")
        proxy.stop()
    finally:
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
