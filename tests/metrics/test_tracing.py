"""Traces reach an OTLP/HTTP collector: a receiver started by the test decodes what the exporter posts with the
OpenTelemetry protobuf classes. One API request's trace holds its server span, its SQL and its provider call."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from sqlalchemy.ext.asyncio import AsyncEngine

from platform_server.app import create_app
from platform_server.teams.service import team_service
from tests.conftest import Database, Member, delete_all_rows, make_settings
from tests.sync.helpers import connect_and_enable

TOOL_ROUTE = "/api/workspaces/{workspace_id}/tools/{tool_name}"


class Collector:
    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []

    def spans(self) -> list[tuple[dict[str, Any], Span]]:
        """Every span received, with its resource's attributes."""
        return [
            (_attributes(resource_spans.resource.attributes), span)
            for request in self.requests
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]


def _attributes(pairs: Any) -> dict[str, Any]:
    return {
        pair.key: getattr(pair.value, pair.value.WhichOneof("value"))
        for pair in pairs
        if pair.value.WhichOneof("value")
    }


@pytest.fixture
def collector() -> Iterator[tuple[Collector, str]]:
    received = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.paths.append(self.path)
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            received.requests.append(request)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_a_request_its_sql_and_its_provider_call_arrive_as_one_trace(
    collector: tuple[Collector, str], database: Database, cleanup_engine: AsyncEngine
) -> None:
    received, endpoint = collector
    settings = make_settings(
        database.url, PLATFORM_SANDBOX=True, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_SERVICE_NAME="platform-test"
    )
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            async with app.state.sessionmaker() as session, session.begin():
                team, user, workspace, _, secret = await team_service.bootstrap(
                    session, team_name="Traced", email="traced@example.com", workspace_name="Main"
                )
            owner = Member(team.id, user.id, workspace.id, secret, user.role)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                await connect_and_enable(app, client, owner, "github")
                response = await client.post(
                    f"/api/workspaces/{workspace.id}/tools/github_list_issues", json={}, headers=owner.headers
                )
                assert response.status_code == 200, response.text
                assert (await client.get("/healthz")).status_code == 200
    finally:
        await delete_all_rows(cleanup_engine)

    # The lifespan's end flushed the batch: nothing is left to wait for.
    assert set(received.paths) == {"/v1/traces"}
    spans = received.spans()
    assert {resource["service.name"] for resource, _ in spans} == {"platform-test"}
    [call] = [
        span
        for _, span in spans
        if span.kind == Span.SPAN_KIND_SERVER and _attributes(span.attributes).get("http.route") == TOOL_ROUTE
    ]
    trace = [span for _, span in spans if span.trace_id == call.trace_id]
    statements = [
        span
        for span in trace
        if "db.system" in _attributes(span.attributes) or "db.system.name" in _attributes(span.attributes)
    ]
    assert statements, [span.name for span in trace]
    outbound = [
        _attributes(span.attributes)
        for span in trace
        if span.kind == Span.SPAN_KIND_CLIENT and "/sandbox/github/" in str(_attributes(span.attributes))
    ]
    assert outbound, [span.name for span in trace]
    assert all(_attributes(span.attributes).get("http.route") not in ("/healthz", "/metrics") for _, span in spans)
