"""Prometheus metrics and OpenTelemetry tracing for the HTTP services.

Each app gets its own registry so that several apps in one process (tests) never clash.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class ApiMetrics:
    """The metrics one API process exports at /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "aion_http_request_duration_seconds",
            "HTTP request latency by route template, method and status class.",
            ["route", "method", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.ingested = Counter(
            "aion_ingested_rows", "Rows newly stored, by kind.", ["kind"], registry=self.registry
        )
        self.reviews = Counter(
            "aion_edit_reviews", "Self-edit review decisions, by decision.", ["decision"], registry=self.registry
        )
        self.exports = Counter(
            "aion_dataset_export_rows", "Rows streamed by dataset exports.", ["split"], registry=self.registry
        )

    def asgi(self, app: ASGIApp) -> ASGIApp:
        """Pure ASGI middleware recording latency by route template (not raw path).

        Pure ASGI rather than Starlette's BaseHTTPMiddleware: the latter wraps every request in
        extra tasks and streams, which costs a measurable share of a small request's latency.
        """

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            start = time.perf_counter()
            status = 500

            async def record_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, record_status)
            finally:
                route = scope.get("route")
                template = getattr(route, "path", "unmatched")
                self.latency.labels(template, scope["method"], f"{status // 100}xx").observe(
                    time.perf_counter() - start
                )

        return middleware


def setup_tracing(app: object, exporter: str | None, service_name: str = "aion-api") -> bool:
    """Instrument APP with OpenTelemetry when EXPORTER is configured.

    Args:
        exporter: ``"console"`` (spans to stdout), ``"otlp"`` (needs
            opentelemetry-exporter-otlp installed; endpoint from OTEL_EXPORTER_OTLP_ENDPOINT),
            or None (no tracing).

    Returns:
        Whether tracing was enabled.
    """
    if not exporter:
        return False
    from opentelemetry import trace
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    span_exporter: SpanExporter
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
    elif exporter == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise RuntimeError(
                "AION_OTEL_EXPORTER=otlp needs the package opentelemetry-exporter-otlp-proto-http"
            ) from exc
        span_exporter = OTLPSpanExporter()
    else:
        raise ValueError(f"AION_OTEL_EXPORTER must be 'console' or 'otlp', not {exporter!r}")
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(provider)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)  # type: ignore[arg-type]
    log.info("OpenTelemetry tracing enabled (%s exporter)", exporter)
    return True
