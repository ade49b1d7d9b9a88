"""OpenTelemetry traces, only when OTEL_EXPORTER_OTLP_ENDPOINT is set: spans of every request (FastAPI), of
its SQL (SQLAlchemy) and of its calls to providers (httpx), exported over OTLP/HTTP in batches.

Each application gets a TracerProvider of its own, handed to each instrumentation, rather than the global one:
nothing is patched process-wide, and an application without an endpoint imports none of this.
"""

import asyncio
from typing import TYPE_CHECKING

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from platform_server.config import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from platform_server.integrations.providers.client import ProviderHttp

# Probes and scrapes arrive every few seconds and say nothing about the work: no spans for them.
UNTRACED_PATHS = ("/metrics", "/healthz", "/readyz")


class Tracing:
    def __init__(self, provider: "TracerProvider") -> None:
        self.provider = provider

    def instrument(self, engine: AsyncEngine, provider_http: "ProviderHttp") -> None:
        """Traces the engine's statements and the provider requests (called once both exist, in the lifespan)."""
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.instrumentation.sqlalchemy.version import __version__
        from opentelemetry.metrics import NoOpMeterProvider

        # SQLAlchemyInstrumentor would also wrap create_engine for the whole process; the engine's own event
        # listeners are all a trace needs.
        tracer = self.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__)
        connections = NoOpMeterProvider().get_meter(__name__).create_up_down_counter("db.client.connections.usage")
        EngineTracer(tracer, engine.sync_engine, connections)  # type: ignore[no-untyped-call]  # unannotated
        provider_http.instrument(self.provider)

    async def aclose(self) -> None:
        """Exports what is still buffered (a blocking HTTP post: off the event loop), then stops the exporter."""
        await asyncio.to_thread(self.provider.shutdown)


def start_tracing(app: FastAPI, settings: Settings) -> Tracing | None:
    """Instruments the app (before its middleware stack is built) and answers the handle the lifespan uses for
    the engine, the provider clients and the final flush; None when no endpoint is configured."""
    endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.OTEL_SERVICE_NAME}))
    # The variable names the collector's base address; the HTTP exporter's traces live under /v1/traces.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")))
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls=",".join(UNTRACED_PATHS))
    return Tracing(provider)
