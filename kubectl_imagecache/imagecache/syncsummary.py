"""The last sync run's summary, kept in its Lease's annotations where `kubectl get lease` reads it.

One annotation a fact (prefix ``ANN_SYNC_SUMMARY``): when the run ended, its outcome (ok, failed,
limited), how many caches it created, refreshed, pruned and kept, the coverage it left and the GiB
held. ``last-success`` outlives the runs that fail: the staleness warning is measured from it.
Pure: plans, outcomes and annotations in, values out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Mapping, Optional, Protocol, Sequence

from ..model.imagecache import ANN_SYNC_SUMMARY, format_time, parse_time

if TYPE_CHECKING:
    from .coverage import Summary
    from .planner import Plan

__all__ = ["OK", "FAILED", "LIMITED", "COUNTS", "RunSummary", "of_run", "staleness"]

OK, FAILED, LIMITED = "ok", "failed", "limited"  # limited: unknown pins kept some actions out (exit 8)
COUNTS = ("created", "refreshed", "pruned", "kept")
_LAST_RUN, _LAST_SUCCESS, _OUTCOME = "last-run", "last-success", "outcome"
_COVERAGE, _HELD = "coverage-percent", "held-gib"


class Done(Protocol):
    """What the executor did (cli.executor.Outcome): names created and deleted, actions failed (only counted)."""

    @property
    def created(self) -> Sequence[str]: ...

    @property
    def deleted(self) -> Sequence[str]: ...

    @property
    def failed(self) -> Sequence[object]: ...


@dataclass(frozen=True)
class RunSummary:
    ran_at: dt.datetime
    outcome: str
    counts: Mapping[str, int]  # COUNTS, those known (a run that stopped early knows none)
    coverage_percent: Optional[float]  # of the run's workloads fully covered when it ended
    held_gib: Optional[int]
    last_success: Optional[dt.datetime]

    def annotations(self) -> dict[str, str]:
        values = {_LAST_RUN: format_time(self.ran_at), _OUTCOME: self.outcome,
                  **{k: str(v) for k, v in self.counts.items()}}
        if self.last_success is not None:
            values[_LAST_SUCCESS] = format_time(self.last_success)
        if self.coverage_percent is not None:
            values[_COVERAGE] = f"{self.coverage_percent:g}"
        if self.held_gib is not None:
            values[_HELD] = str(self.held_gib)
        return {ANN_SYNC_SUMMARY + k: v for k, v in values.items()}

    @classmethod
    def from_annotations(cls, annotations: Mapping[str, Any]) -> Optional[RunSummary]:
        """The summary in a Lease's annotations; None when no run recorded one (or it is unreadable)."""
        got = {k[len(ANN_SYNC_SUMMARY):]: str(v) for k, v in annotations.items() if k.startswith(ANN_SYNC_SUMMARY)}
        ran_at = parse_time(got.get(_LAST_RUN))
        if ran_at is None:
            return None
        return cls(ran_at, got.get(_OUTCOME, ""), {k: int(got[k]) for k in COUNTS if got.get(k, "").isdigit()},
                   _number(got.get(_COVERAGE)), _whole(got.get(_HELD)), parse_time(got.get(_LAST_SUCCESS)))

    def to_dict(self) -> dict[str, Any]:
        return {"lastRun": format_time(self.ran_at), "outcome": self.outcome,
                "lastSuccess": format_time(self.last_success) if self.last_success else None,
                **{k: self.counts.get(k) for k in COUNTS}, "coveragePercent": self.coverage_percent,
                "heldGiB": self.held_gib}

    def lines(self) -> list[str]:
        counts = ", ".join(f"{self.counts[k]} {k}" for k in COUNTS if k in self.counts) or "not known"
        cover = "not known" if self.coverage_percent is None else f"{self.coverage_percent:g}% of workloads"
        held = "not known" if self.held_gib is None else f"{self.held_gib} GiB held"
        return [f"Last run:      {format_time(self.ran_at)} ({self.outcome})",
                f"Last success:  {format_time(self.last_success) if self.last_success else 'none recorded'}",
                f"Caches:        {counts}",
                f"Coverage:      {cover}, {held}"]


def _number(text: Optional[str]) -> Optional[float]:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _whole(text: Optional[str]) -> Optional[int]:
    return int(text) if text and text.isdigit() else None


def of_run(plan: Optional[Plan], outcome: Optional[Done], coverage: Optional[Summary], code: int,
           now: dt.datetime, previous: Optional[RunSummary]) -> RunSummary:
    """This run's summary. ``plan`` None: the run stopped before planning; ``outcome`` None: it did not act.
    ``code``: the run's exit code (0 is a success)."""
    kind = OK if code == 0 else LIMITED if plan is not None and plan.limited and not (outcome and outcome.failed) \
        else FAILED
    counts: dict[str, int] = {}
    if plan is not None:
        deleted = set(outcome.deleted) if outcome else set()
        created = set(outcome.created) if outcome else set()
        refreshed = {r.old for r in plan.refreshes if r.old in deleted}  # replacement Ready, old one deleted
        counts = {"created": sum(c.name in created for c in plan.creates), "refreshed": len(refreshed),
                  "pruned": len(deleted - refreshed), "kept": len(plan.kept)}
    cover = coverage.workloads_percent if coverage is not None else None
    summary = RunSummary(now, kind, counts, None if cover is None else round(cover, 1),
                         coverage.held_gib if coverage is not None else None,
                         previous.last_success if previous else None)
    return replace(summary, last_success=now) if kind == OK else summary


def staleness(summary: Optional[RunSummary], gap: dt.timedelta, now: dt.datetime) -> Optional[str]:
    """Why the last successful run is too old (more than twice the schedule's ``gap`` ago), else None."""
    if summary is None or summary.last_success is None:
        return "no successful sync run is recorded"
    age = now - summary.last_success
    if age <= 2 * gap:
        return None
    return (f"the last successful sync ran {_ago(age)} ago ({format_time(summary.last_success)}), more than twice "
            f"the schedule's {_ago(gap)} between runs")


def _ago(t: dt.timedelta) -> str:
    minutes = int(t.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes}m"
    hours = minutes // 60
    return f"{hours}h" if hours < 48 else f"{hours // 24}d"
