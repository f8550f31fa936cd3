"""Collect the measurements of both servers and print them as Markdown tables."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from bench.monitor import Usage
from bench.workloads import Workload

SERVERS = ("davfiles", "baseline")


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

    def ratio(self, metric: str) -> float | None:
        ours, base = self.series(metric, "davfiles"), self.series(metric, "baseline")
        if not ours.values or not base.values or base.median == 0:
            return None
        return ours.median / base.median

    def cpu(self, server: str) -> Series:
        return Series([usage.cpu_s for usage in self.usage.get(server, [])])

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
    return f"{value:.2f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def metrics_table(results: list[WorkloadResults]) -> str:
    lines = [
        "| workload | metric | better | davfiles median (min-max) "
        "| baseline median (min-max) | davfiles / baseline |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        workload = result.workload
        for metric in workload.metrics:
            better = "higher" if metric.higher_is_better else "lower"
            lines.append(
                f"| {workload.key}: {workload.title} | {metric.name} | {better} "
                f"| {result.series(metric.name, 'davfiles').cell()} "
                f"| {result.series(metric.name, 'baseline').cell()} "
                f"| {_ratio(result.ratio(metric.name))} |"
            )
        if result.error:
            lines.append(f"| {workload.key} | error | | {result.error} | | |")
    return "\n".join(lines)


def usage_table(results: list[WorkloadResults]) -> str:
    lines = [
        "| workload | server CPU s per run: davfiles | baseline | davfiles / baseline "
        "| peak RSS MiB (growth): davfiles | baseline |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        ours, base = result.cpu("davfiles"), result.cpu("baseline")
        ratio = ours.median / base.median if ours.values and base.values and base.median else None
        peaks = []
        for server in SERVERS:
            peak, growth = result.peak(server)
            peaks.append(f"{peak:,.0f} (+{growth:,.0f})" if result.usage.get(server) else "-")
        lines.append(
            f"| {result.workload.key} | {ours.cell()} | {base.cell()} | {_ratio(ratio)} "
            f"| {peaks[0]} | {peaks[1]} |"
        )
    return "\n".join(lines)


def as_json(results: list[WorkloadResults], header: dict[str, Any]) -> dict[str, Any]:
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
                        "ratio": result.ratio(metric.name),
                        **{
                            server: result.series(metric.name, server).as_dict()
                            for server in SERVERS
                        },
                    }
                    for metric in workload.metrics
                ],
                "usage": {
                    server: [vars(usage) for usage in result.usage.get(server, [])]
                    for server in SERVERS
                },
            }
        )
    return {**header, "workloads": workloads}
