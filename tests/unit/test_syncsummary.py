"""The last sync run's summary: counted from the plan and what the executor did, written to and read
from Lease annotations, and judged stale against the schedule."""

from __future__ import annotations

import datetime as dt

from kubectl_imagecache.cli.executor import Outcome
from kubectl_imagecache.imagecache.coverage import Summary
from kubectl_imagecache.imagecache.planner import Create, Delete, Plan, Refresh
from kubectl_imagecache.imagecache.prune import Kept
from kubectl_imagecache.imagecache.syncsummary import RunSummary, of_run, staleness

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
P = "kubectl-imagecache.io/sync-"


def plan(limited: tuple[str, ...] = ()) -> Plan:
    return Plan(creates=(Create("new-a", ("r/a:1",), ("deployment/ns/a",), 20, {}),
                         Create("new-b", ("r/b:1",), ("deployment/ns/b",), 20, {})),
                refreshes=(Refresh("old-c", "new-c", True, (), {}),),
                deletes=(Delete("old-c", ("refreshed",), 20, ("new-c",)), Delete("failed-d", ("failed",), 20)),
                kept=(Kept("pinned-e", ("unused",), ("pod/ns/e",)),), limited=limited)


def coverage(covered: int, of: int) -> Summary:
    return Summary(workloads=of, workloads_covered=covered, pods=0, pods_covered=0, caches=3, held_gib=60,
                   reclaimable_gib=0)


def test_counts_come_from_what_was_done() -> None:
    done = Outcome(created=["new-a", "new-c"], ready=["new-a", "new-c"], deleted=["old-c", "failed-d"],
                   failed=["new-b: ImagePullFailed"])
    s = of_run(plan(), done, coverage(2, 3), 1, T0, None)
    assert s.outcome == "failed" and s.last_success is None
    assert dict(s.counts) == {"created": 1, "refreshed": 1, "pruned": 1, "kept": 1}
    assert s.coverage_percent == 66.7 and s.held_gib == 60


def test_annotations_round_trip_and_a_failure_keeps_the_last_success() -> None:
    ok = of_run(plan(), Outcome(created=["new-a", "new-b"], deleted=["failed-d"]), coverage(3, 3), 0, T0, None)
    assert ok.annotations() == {P + "last-run": "2026-01-02T03:04:05Z", P + "last-success": "2026-01-02T03:04:05Z",
                                P + "outcome": "ok", P + "created": "2", P + "refreshed": "0", P + "pruned": "1",
                                P + "kept": "1", P + "coverage-percent": "100", P + "held-gib": "60"}
    assert RunSummary.from_annotations({**ok.annotations(), "other": "x"}) == ok
    later = T0 + dt.timedelta(hours=1)
    stopped = of_run(None, None, None, 5, later, RunSummary.from_annotations(ok.annotations()))
    assert stopped.outcome == "failed" and stopped.last_success == T0 and stopped.counts == {}
    assert stopped.annotations() == {P + "last-run": "2026-01-02T04:04:05Z", P + "last-success": "2026-01-02T03:04:05Z",
                                     P + "outcome": "failed"}
    assert stopped.to_dict()["created"] is None and stopped.to_dict()["coveragePercent"] is None


def test_limited_runs_and_unreadable_annotations() -> None:
    assert of_run(plan(("delete x",)), Outcome(), coverage(0, 0), 8, T0, None).outcome == "limited"
    assert of_run(plan(("delete x",)), Outcome(), None, 8, T0, None).coverage_percent is None
    assert RunSummary.from_annotations({P + "outcome": "ok"}) is None  # no last-run: nothing recorded
    odd = RunSummary.from_annotations({P + "last-run": "2026-01-02T03:04:05Z", P + "created": "-1",
                                       P + "coverage-percent": "lots", P + "held-gib": "1.5"})
    assert odd is not None and odd.counts == {} and odd.coverage_percent is None and odd.held_gib is None


def test_stale_past_twice_the_schedule() -> None:
    s = of_run(plan(), Outcome(), coverage(1, 1), 0, T0, None)
    gap = dt.timedelta(minutes=15)
    assert staleness(s, gap, T0 + dt.timedelta(minutes=30)) is None
    assert staleness(s, gap, T0 + dt.timedelta(minutes=31)) == (
        "the last successful sync ran 31m ago (2026-01-02T03:04:05Z), more than twice the schedule's 15m between runs")
    assert "ran 3d ago" in str(staleness(s, dt.timedelta(hours=1), T0 + dt.timedelta(days=3)))
    failed = of_run(None, None, None, 1, T0, None)
    assert staleness(failed, gap, T0) == "no successful sync run is recorded"


def test_the_fallback_schedule_is_the_shipped_cronjobs() -> None:
    from pathlib import Path

    import yaml

    from kubectl_imagecache.kube.lease import CRONJOB_NAME, CRONJOB_SCHEDULE, LEASE_NAMESPACE

    shipped = yaml.safe_load((Path(__file__).resolve().parents[2] / "deploy/sync/cronjob.yaml").read_text())
    assert (shipped["metadata"]["namespace"], shipped["metadata"]["name"]) == (LEASE_NAMESPACE, CRONJOB_NAME)
    assert shipped["spec"]["schedule"] == CRONJOB_SCHEDULE
