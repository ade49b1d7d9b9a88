"""The SDKs' committed, generated files match this server's OpenAPI document (run `python3 sdk/generate.py`).

sdk/openapi.json must be what `platform-server openapi` prints; the Python models and the sync client must be
what sdk/generate.py renders. The TypeScript types are checked against sdk/openapi.json by the TypeScript
suite (sdk/typescript/test/generated.test.ts), which needs node.
"""

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from platform_server.app import create_app
from tests.conftest import make_settings

SDK = Path(__file__).resolve().parents[2] / "sdk"
FIX = "out of date: run `python3 sdk/generate.py` and commit what it writes"


@pytest.fixture(scope="module")
def generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sdk_generate", SDK / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def document_text() -> str:
    # What `platform-server openapi` prints (cli.openapi), with PLATFORM_SANDBOX=1 as sdk/generate.py runs it.
    app = create_app(make_settings("sqlite+aiosqlite:///:memory:", PLATFORM_SANDBOX=True))
    return json.dumps(app.openapi(), indent=2) + "\n"


def test_the_committed_openapi_document_is_the_servers(document_text: str) -> None:
    assert (SDK / "openapi.json").read_text() == document_text, FIX


def test_the_python_models_are_generated_from_it(generate: ModuleType, document_text: str) -> None:
    rendered = generate.render_python_models(json.loads(document_text))
    assert (SDK / "python/src/platform_api/models.py").read_text() == rendered, FIX


def test_the_sync_python_client_is_derived_from_the_async_one(generate: ModuleType) -> None:
    package = SDK / "python/src/platform_api"
    rendered = generate.render_sync_client((package / "_async_client.py").read_text())
    assert (package / "_sync_client.py").read_text() == rendered, FIX


def test_the_typescript_types_come_from_the_committed_document() -> None:
    # Cheap guard that the file exists and was generated; its exact content is the TypeScript suite's check.
    types = (SDK / "typescript/src/generated/openapi.ts").read_text()
    for operation in json.loads((SDK / "openapi.json").read_text())["paths"].values():
        for method in operation.values():
            assert f"    {method['operationId']}: {{" in types, method["operationId"]


def test_the_drift_is_detected(generate: ModuleType, document_text: str) -> None:
    document = json.loads(document_text)
    document["components"]["schemas"]["FeatureRead"]["properties"]["newField"] = {"type": "string"}
    document["components"]["schemas"]["FeatureRead"]["required"].append("newField")
    rendered = generate.render_python_models(document)
    assert "    newField: str\n" in rendered
    assert rendered != (SDK / "python/src/platform_api/models.py").read_text()
