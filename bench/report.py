"""Collect the measurements of every server and print them as Markdown tables."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from bench.monitor import SAMPLE_S, Usage
from bench.workloads import REQUESTS, Workload

# Column order of the tables: the reference first, as in issue 12.
SERVERS = ("baseline", "apache", "davfiles")
LABELS = {"baseline": "WsgiDAV", "apache": "Apache", "davfiles": "davfiles"}
REFERENCE = "baseline"
DAVFILES = "davfiles"
COMPARED = tuple(server for server in SERVERS if server != REFERENCE)


@dataclass
class Series:
    """The values of one metric of one server, one per repetition."""

    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def cell(self) -> str:
        if not self.values:
            return "-"
        return f"{_number(self.median)} ({_number(min(self.values))}-{_number(max(self.values))})"

    def as_dict(self) -> dict[str, Any]:
        if not self.values:
            return {"values": []}
        return {
            "values": self.values,
            "median": self.median,
            "min": min(self.values),
            "max": max(self.values),
        }


@dataclass
class WorkloadResults:
    workload: Workload
    metrics: dict[str, dict[str, Series]] = field(default_factory=dict)
    usage: dict[str, list[Usage]] = field(default_factory=dict)
    error: str = ""

    def add(self, server: str, values: dict[str, float], usage: Usage) -> None:
        for name, value in values.items():
            self.metrics.setdefault(name, {}).setdefault(server, Series()).values.append(value)
        self.usage.setdefault(server, []).append(usage)

    def series(self, metric: str, server: str) -> Series:
        return self.metrics.get(metric, {}).get(server, Series())

    def ratio(self, metric: str, server: str) -> float | None:
        """Median of ``server`` over the median of plain WsgiDAV."""
        return _ratio_of(self.series(metric, server), self.series(metric, REFERENCE))

    def cpu(self, server: str) -> Series:
        return Series([usage.cpu_s for usage in self.usage.get(server, [])])

    def cpu_per_request(self, server: str) -> Series:
        """Server CPU milliseconds per request of each run."""
        counts = self.series(REQUESTS, server).values
        runs = self.usage.get(server, [])
        return Series([u.cpu_s * 1000 / n for u, n in zip(runs, counts, strict=False) if n > 0])

    def peak(self, server: str) -> tuple[float, float]:
        """Highest peak RSS and highest growth over the runs, in MiB."""
        runs = self.usage.get(server, [])
        if not runs:
            return (0.0, 0.0)
        return (max(u.peak_rss_mib for u in runs), max(u.rss_growth_mib for u in runs))


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    # Quick mode's listings take milliseconds: keep three significant digits.
    return f"{value:.3g}"


def _ratio_of(ours: Series, reference: Series) -> float | None:
    if not ours.values or not reference.values or reference.median == 0:
        return None
    return ours.median / reference.median


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _header(cells: list[str]) -> str:
    return _row(cells) + "\n|" + "---|" * len(cells)


def metrics_table(results: list[WorkloadResults]) -> str:
    """One row per workload and metric: each server's median (min-max), ratios to WsgiDAV."""
    cells = ["workload", "metric", "better", f"{LABELS[REFERENCE]} median (min-max)"]
    for server in COMPARED:
        label = LABELS[server]
        cells += [f"{label} median (min-max)", f"{label} / {LABELS[REFERENCE]}"]
    lines = [_header(cells)]
    for result in results:
        workload = result.workload
        for metric in workload.metrics:
            row = [
                f"{workload.key}: {workload.title}",
                metric.name,
                "higher" if metric.higher_is_better else "lower",
                result.series(metric.name, REFERENCE).cell(),
            ]
            for server in COMPARED:
                row += [
                    result.series(metric.name, server).cell(),
                    _ratio(result.ratio(metric.name, server)),
                ]
            lines.append(_row(row))
        if result.error:
            lines.append(_row([workload.key, "error", "", result.error] + [""] * 2 * len(COMPARED)))
    return "\n".join(lines)


def usage_table(results: list[WorkloadResults]) -> str:
    """Per workload: server CPU per run with ratios to WsgiDAV, and peak RSS per run."""
    cells = ["workload", f"server CPU s per run: {LABELS[REFERENCE]}"]
    for server in COMPARED:
        cells += [LABELS[server], f"{LABELS[server]} / {LABELS[REFERENCE]}"]
    cells.append(f"{LABELS[DAVFILES]} CPU ms per request")
    cells += [
        f"peak RSS MiB (growth): {LABELS[REFERENCE]}",
        *(LABELS[server] for server in COMPARED),
    ]
    lines = [_header(cells)]
    for result in results:
        reference = result.cpu(REFERENCE)
        row = [result.workload.key, reference.cell()]
        for server in COMPARED:
            ours = result.cpu(server)
            row += [ours.cell(), _ratio(_ratio_of(ours, reference))]
        row.append(result.cpu_per_request(DAVFILES).cell())
        for server in SERVERS:
            peak, growth = result.peak(server)
            row.append(f"{peak:,.0f} (+{growth:,.0f})" if result.usage.get(server) else "-")
        lines.append(_row(row))
    return "\n".join(lines)


def run_peaks(peaks: dict[str, float]) -> str:
    """The highest RSS of each whole server (all its processes summed) over the run."""
    title = (
        f"peak RSS over the whole run, MiB (every process summed, every {SAMPLE_S * 1000:.0f} ms)"
    )
    lines = [_header(["", *(LABELS[server] for server in SERVERS)])]
    values = [f"{peaks[server]:,.0f}" if server in peaks else "-" for server in SERVERS]
    lines.append(_row([title, *values]))
    return "\n".join(lines)


def as_json(
    results: list[WorkloadResults], peaks: dict[str, float], header: dict[str, Any]
) -> dict[str, Any]:
    workloads = []
    for result in results:
        workload = result.workload
        workloads.append(
            {
                "key": workload.key,
                "title": workload.title,
                "error": result.error,
                "metrics": [
                    {
                        "name": metric.name,
                        "higher_is_better": metric.higher_is_better,
                        "ratios": {
                            server: result.ratio(metric.name, server) for server in COMPARED
                        },
                        **{
                            server: result.series(metric.name, server).as_dict()
                            for server in SERVERS
                        },
                    }
                    for metric in workload.metrics
                ],
                "cpu_ms_per_request": {
                    server: result.cpu_per_request(server).as_dict() for server in SERVERS
                },
                "usage": {
                    server: [vars(usage) for usage in result.usage.get(server, [])]
                    for server in SERVERS
                },
            }
        )
    return {**header, "peak_rss_mib": peaks, "workloads": workloads}
