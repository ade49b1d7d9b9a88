from fastapi import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from platform_server.metrics.service import MetricsExporter
from platform_server.routing import PrefixedRouter

router = PrefixedRouter()


# Outside the OpenAPI document: an operator endpoint in Prometheus' text format, not part of the customer API
# (the SDKs are generated from that document). Neither API keys nor rate limits apply: METRICS_TOKEN does.
@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    exporter: MetricsExporter = request.app.state.metrics
    exporter.authorize(request.headers.get("authorization"))
    return Response(await exporter.exposition(), media_type=CONTENT_TYPE_LATEST)
