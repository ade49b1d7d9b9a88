from platform_server.features.models import Feature
from tests.sourced_items import SourcedItemContract


class TestFeatures(SourcedItemContract):
    path = "/api/features"
    model = Feature
    statuses = ("backlog", "planned", "in_progress", "done", "canceled")
    default_status = "backlog"
