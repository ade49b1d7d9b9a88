from platform_server.features.models import Feature
from platform_server.work_items.repository import FeatureRepository
from platform_server.work_items.service import SourcedItemService

feature_service = SourcedItemService[Feature](FeatureRepository, "Feature")
