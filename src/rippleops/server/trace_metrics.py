"""The trace ingest's numbers on ``/metrics``, read from its stats at scrape time.

=======================================  =====================================================
metric                                   meaning
=======================================  =====================================================
``ripple_trace_spans_received_total``    spans offered, by ``source`` (``otlp``, ``process``)
``ripple_trace_spans_written_total``     new spans committed to the database
``ripple_trace_spans_duplicate_total``   spans already stored (a client's retry, a replay)
``ripple_trace_spans_rejected_total``    OTLP spans refused with 429 (the exporter retries)
``ripple_trace_spans_dropped_total``     spans lost, by ``reason``: ``queue_full`` (in-process
                                         spans while the queue was full), ``write_failed``
                                         (the database refused them; logged)
``ripple_trace_queue_spans``             spans queued or being written
``ripple_trace_queue_capacity_spans``    ``RIPPLE_TRACE_QUEUE_SPANS``
``ripple_trace_batch_write_seconds``     time to write one batch (histogram)
=======================================  =====================================================
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from rippleops.services.trace_ingest import LATENCY_BUCKETS, TraceIngest


class TraceIngestCollector(Collector):
    def __init__(self, ingest: TraceIngest) -> None:
        self.ingest = ingest

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        stats = self.ingest.stats
        received = CounterMetricFamily("ripple_trace_spans_received", "Spans offered for ingestion", labels=["source"])
        for source, n in stats.received.items():
            received.add_metric([source], n)
        yield received
        yield CounterMetricFamily("ripple_trace_spans_written", "New spans committed", value=stats.written)
        yield CounterMetricFamily(
            "ripple_trace_spans_duplicate", "Spans already stored (retries, replays)", value=stats.duplicates
        )
        yield CounterMetricFamily(
            "ripple_trace_spans_rejected", "OTLP spans refused with 429 (queue full)", value=stats.rejected
        )
        dropped = CounterMetricFamily("ripple_trace_spans_dropped", "Spans lost", labels=["reason"])
        for reason, n in stats.dropped.items():
            dropped.add_metric([reason], n)
        yield dropped
        yield GaugeMetricFamily(
            "ripple_trace_queue_spans", "Spans queued or being written", value=self.ingest.queue_depth
        )
        yield GaugeMetricFamily(
            "ripple_trace_queue_capacity_spans", "Spans the queue holds", value=self.ingest.capacity
        )
        cumulative = [(str(bound), n) for bound, n in zip(LATENCY_BUCKETS, stats.batch_buckets, strict=True)]
        yield HistogramMetricFamily(
            "ripple_trace_batch_write_seconds",
            "Time to write one batch of spans",
            buckets=[*cumulative, ("+Inf", stats.batches)],
            sum_value=stats.batch_seconds_sum,
        )
