"""`kubectl imagecache list` (aliases get, ls): the ImageCaches of the cluster, as `kubectl get` shows them."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional

import click

from ..options import CommandOptions, KubeFlags, kube_flags, selector_flag
from ..printflags import AnyPrinter, CustomColumnsPrinter, PrintFlags, TablePrinter
from ..resourcearg import METAVAR

if TYPE_CHECKING:
    from ...kube.api import KubeSettings
    from ..jsonpath import Path

FORMATS = ("table", "wide", "json", "yaml", "name")
TEMPLATES = ("jsonpath", "custom-columns")


def _label_header(key: str) -> str:
    return key.rsplit("/", 1)[-1].upper()  # kubectl's -L header: the key's last segment


@dataclass
class ListOptions(CommandOptions):
    names: tuple[str, ...] = ()
    selector: Optional[str] = None
    output: str = "table"
    no_headers: bool = False
    show_labels: bool = False
    label_columns: tuple[str, ...] = ()
    sort_by: Optional[str] = None
    watch: bool = False
    kube: KubeFlags = KubeFlags()
    settings: KubeSettings = field(init=False)
    printer: AnyPrinter = field(init=False, default_factory=TablePrinter)
    labels: tuple[str, ...] = field(init=False, default=())
    sort_path: Optional[Path] = field(init=False, default=None)

    def complete(self) -> None:
        from ..jsonpath import parse_path
        from ..resourcearg import parse_names

        self.names = parse_names(self.names)
        self.printer = PrintFlags(self.output, FORMATS, TEMPLATES).to_printer()
        self.labels = tuple(k.strip() for spec in self.label_columns for k in spec.split(",") if k.strip())
        if self.sort_by:
            self.sort_path = parse_path(self.sort_by.strip().removeprefix("{").removesuffix("}"), self.sort_by)
        self.settings = self.kube.complete()

    def validate(self) -> None:
        from ...errors import UsageError

        if self.names and self.selector:
            raise UsageError("name caches or select them with -l, not both")
        if self.watch and self.selector and _equality(self.selector) is None:
            raise UsageError(f'-w with -l takes KEY=VALUE or KEY terms joined by commas, not "{self.selector}"')
        if (self.show_labels or self.labels) and not isinstance(self.printer, TablePrinter):
            raise UsageError(f"--show-labels and -L only apply to tables, not -o {self.printer.format}")

    # -- rendering ------------------------------------------------------------------------------------------
    def _sort(self, items: list[Mapping[str, Any]]) -> None:
        items.sort(key=lambda o: str((o.get("metadata") or {}).get("name")))
        if self.sort_path is None:
            return
        from ..jsonpath import select

        def key(o: Mapping[str, Any]) -> tuple[int, Any]:
            found = select(self.sort_path, o, o)  # type: ignore[arg-type]
            if not found:
                return (0, "")
            v = found[0]
            return (1, v) if isinstance(v, (int, float)) and not isinstance(v, bool) else (2, str(v))

        items.sort(key=key)

    def _headers(self) -> list[str]:
        from ..view import LIST_HEADERS, WIDE_HEADERS

        if isinstance(self.printer, CustomColumnsPrinter):
            return self.printer.headers
        n = len(LIST_HEADERS)  # STALE ends the narrow columns; the wide ones follow
        headers = [*LIST_HEADERS, "STALE", *(WIDE_HEADERS[n:] if self.printer.wide else [])]
        headers += [_label_header(k) for k in self.labels]
        return headers + (["LABELS"] if self.show_labels else [])

    def _row(self, o: Mapping[str, Any], now: dt.datetime, stale: str) -> list[str]:
        from ..view import LIST_HEADERS, labels_text, list_row

        if isinstance(self.printer, CustomColumnsPrinter):
            return self.printer.row(o)
        labels = (o.get("metadata") or {}).get("labels") or {}
        n = len(LIST_HEADERS)
        full = list_row(o, now, self.printer.wide)
        row = full[:n] + [stale] + full[n:] + [str(labels.get(k, "")) for k in self.labels]
        return row + ([labels_text(o)] if self.show_labels else [])

    def _print(self, items: list[Mapping[str, Any]], single: bool, headers: bool) -> None:
        from ..view import as_list, for_output

        if not isinstance(self.printer, (TablePrinter, CustomColumnsPrinter)):
            self.printer.print_obj(for_output(items[0]) if single else as_list(items))
            return
        from ..scope import freshness_of, stale_text

        now = dt.datetime.now(dt.timezone.utc)
        # STALE: recorded vs current digests (a HEAD request only past the metadata cache's TTL)
        fresh = freshness_of(items) if isinstance(self.printer, TablePrinter) else {}
        rows = [self._row(o, now, stale_text(fresh[o["metadata"]["name"]]) if fresh else "") for o in items]
        TablePrinter.print_rows(rows, self._headers(), self.no_headers or not headers)

    def run(self) -> int:
        cluster = self.settings.connect()
        version = ""
        if self.names:
            items: list[Mapping[str, Any]] = [cluster.get_imagecache(n) for n in self.names]
        else:
            listed, version = cluster.list_imagecaches_at(self.selector)
            items = list(listed)
        self._sort(items)
        if items:
            self._print(items, len(self.names) == 1, headers=True)
        elif not self.watch or isinstance(self.printer, TablePrinter):
            click.echo("No ImageCaches found.", err=True)
        if self.watch:
            self._watch(cluster, version, printed_headers=bool(items))
        return 0

    def _watch(self, cluster: Any, version: str, printed_headers: bool) -> None:
        """kubectl get -w: after the list, one more row (or object) per change, until interrupted."""
        wanted = set(self.names)
        headers = not printed_headers
        while True:
            if not version:
                _, version = cluster.list_imagecaches_at(self.selector)
            for event in cluster.watch_imagecaches(self.names[0] if len(self.names) == 1 else None, version,
                                                   timeout=300):
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    version = ""  # 410 Gone: list again for a fresh version
                    break
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if event.get("type") == "BOOKMARK" or (wanted and obj.get("metadata", {}).get("name") not in wanted):
                    continue
                if self.selector and not _matches(obj, self.selector):
                    continue
                self._print([obj], True, headers)
                headers = False


_TERM = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_./]*)(?:(==?)([-A-Za-z0-9_.]*))?$")


def _equality(selector: str) -> Optional[dict[str, Optional[str]]]:
    """A selector of KEY=VALUE and KEY terms as a dict (None for set-based ones, which -w refuses)."""
    terms: dict[str, Optional[str]] = {}
    for part in selector.split(","):
        m = _TERM.match(part.strip())
        if not m:
            return None
        terms[m.group(1)] = m.group(3) if m.group(2) else None
    return terms


def _matches(obj: Mapping[str, Any], selector: str) -> bool:
    """The watch sees every cache: keep those the (equality) selector picks."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    terms = _equality(selector) or {}
    return all(k in labels and (v is None or labels[k] == v) for k, v in terms.items())


@click.command("list", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, metavar=METAVAR)
@selector_flag("Only caches with these labels, e.g. app.kubernetes.io/managed-by=kubectl-imagecache.")
@click.option("-o", "--output", default="table", show_default=True, metavar="FORMAT",
              help="table, wide, json, yaml, name, jsonpath=TEMPLATE or custom-columns=HEADER:PATH,...")
@click.option("--no-headers", is_flag=True, help="Print table rows without the header line.")
@click.option("--show-labels", is_flag=True, help="Add a LABELS column with every label.")
@click.option("-L", "--label-columns", multiple=True, metavar="KEY[,KEY]",
              help="Add a column with each of these labels' values (repeatable).")
@click.option("--sort-by", metavar="JSONPATH", help="Sort by this field, e.g. .spec.imageCacheSize.")
@click.option("-w", "--watch", is_flag=True, help="After listing, print each change until interrupted.")
@kube_flags
def command(names: tuple[str, ...], selector: Optional[str], output: str, no_headers: bool, show_labels: bool,
            label_columns: tuple[str, ...], sort_by: Optional[str], watch: bool, kube: KubeFlags) -> int:
    """List ImageCaches: phase, progress, size, images and expiry.

    \b
    Examples:
      kubectl imagecache list
      kubectl imagecache get -o wide -l app.kubernetes.io/managed-by=kubectl-imagecache
      kubectl imagecache ls imc/my-cache -o yaml
      kubectl imagecache list --sort-by=.spec.imageCacheSize -L team --no-headers
      kubectl imagecache list -o jsonpath='{range .items[*]}{.metadata.name}{"\\n"}{end}'
      kubectl imagecache list -o custom-columns=NAME:.metadata.name,SIZE:.spec.imageCacheSize
      kubectl imagecache list -o name | xargs kubectl imagecache delete --yes
    """
    return ListOptions(names, selector, output, no_headers, show_labels, label_columns, sort_by, watch,
                       kube).execute()
