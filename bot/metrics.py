"""Prometheus metrics of one instance (`mib_*`, each labelled `instance`), served at /metrics.

One registry per bot, so several bots in one test process never mix their figures.
Counters and histograms are fed by the answering path, the gate, the areas and the provider
clients (through `provider_call`, which `services/` accept as a plain callback); gauges
that describe state (gateway, Redis mode, jobs) are read when Prometheus scrapes, from
callables the bot registers (`watch`). The monitoring profile's Grafana dashboard
(monitoring/grafana/dashboards/mib-fleet.json) is built on these names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

# Seconds: acknowledgements take milliseconds, images tens of seconds, videos minutes.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
OUTCOMES = ("answered", "failed", "declined", "refused", "dropped")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# `*_created` timestamps double the series and no panel uses them.
disable_created_metrics()

StateReader = Callable[[], Mapping[tuple[str, ...], float]]


class _Watched(Collector):
    """Gauges computed at scrape time: {label values: value} from a callable."""

    def __init__(self) -> None:
        self.gauges: list[tuple[str, str, tuple[str, ...], StateReader]] = []
        self.instance = ""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, documentation, labels, read in self.gauges:
            family = GaugeMetricFamily(name, documentation, labels=["instance", *labels])
            try:
                values = read()
            except Exception:  # a broken reader must not break the whole scrape
                values = {}
            for label_values, value in values.items():
                family.add_metric([self.instance, *label_values], value)
            yield family


class Metrics:
    def __init__(self, instance: str) -> None:
        self.instance = instance
        self.registry = CollectorRegistry()
        registry = self.registry
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        self.received = Counter(
            "mib_events_received",
            "Events this instance received, by command and kind",
            ["instance", "command", "kind"],
            registry=registry,
        )
        self.outcomes = Counter(
            "mib_events",
            "Events this instance took part in, by outcome (answered, failed, declined, "
            "refused, dropped)",
            ["instance", "command", "kind", "outcome"],
            registry=registry,
        )
        self.claims = Counter(
            "mib_claims",
            "Claims taken, by result (won, lost)",
            ["instance", "result"],
            registry=registry,
        )
        self.takeovers = Counter(
            "mib_takeovers",
            "Events answered at a rank above 0 (covering for the owner)",
            ["instance", "command"],
            registry=registry,
        )
        self.ack = self._latency(
            "mib_ack_seconds",
            "From the event's creation to Discord accepting our acknowledgement",
            "command",
        )
        self.first_output = self._latency(
            "mib_first_output_seconds",
            "From the event's creation to the first visible output",
            "command",
        )
        self.completion = self._latency(
            "mib_completion_seconds", "From the event's creation to the end of the work", "command"
        )
        self.provider_latency = self._latency(
            "mib_provider_request_seconds",
            "Provider calls, by provider and operation",
            "provider",
            "operation",
        )
        self.provider_errors = Counter(
            "mib_provider_errors",
            "Provider calls that failed, by provider and error kind",
            ["instance", "provider", "kind"],
            registry=registry,
        )
        self._watched = _Watched()
        self._watched.instance = instance
        registry.register(self._watched)

    def _latency(self, name: str, documentation: str, *labels: str) -> Histogram:
        return Histogram(
            name,
            documentation,
            ["instance", *labels],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    # ---- feeding ----

    def event_received(self, command: str, kind: str) -> None:
        self.received.labels(self.instance, command, kind).inc()

    def event_outcome(self, command: str, kind: str, outcome: str) -> None:
        self.outcomes.labels(self.instance, command, kind, outcome).inc()

    def claim(self, won: bool) -> None:
        self.claims.labels(self.instance, "won" if won else "lost").inc()

    def takeover(self, command: str) -> None:
        self.takeovers.labels(self.instance, command).inc()

    def observe(self, histogram: Histogram, command: str, seconds: float) -> None:
        histogram.labels(self.instance, command).observe(max(0.0, seconds))

    def provider_call(
        self, provider: str, operation: str, seconds: float, error_kind: str | None
    ) -> None:
        """The `services` observer: one provider request, its time and failure kind."""
        self.provider_latency.labels(self.instance, provider, operation).observe(seconds)
        if error_kind is not None:
            self.provider_errors.labels(self.instance, provider, error_kind).inc()

    def watch(
        self, name: str, documentation: str, labels: tuple[str, ...], read: StateReader
    ) -> None:
        """A gauge read at scrape time (`read` returns {label values: value})."""
        self._watched.gauges.append((name, documentation, labels, read))

    # ---- serving ----

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def sample(self, name: str, **labels: Any) -> float | None:
        """One sample's value (tests and /상태): e.g. sample("mib_events_total", ...)."""
        return self.registry.get_sample_value(name, {"instance": self.instance, **labels})
