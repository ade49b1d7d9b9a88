"""Regenerates both SDKs' types from the server's OpenAPI document.

    python3 sdk/generate.py            # write sdk/openapi.json, the Python models and the TypeScript types
    python3 sdk/generate.py --check    # exit 1 when any committed file differs from what would be written

The document comes from `platform-server openapi` with PLATFORM_SANDBOX=1 (so every route is in it). Python
models are rendered here (TypedDicts, no dependency); TypeScript types by openapi-typescript, a pinned dev
dependency of sdk/typescript (installed with `npm ci` when missing). The sync Python client is derived from the
async one (the way httpcore does it), so the two surfaces cannot drift apart.
"""

# A developer's script: it prints what it writes and runs our own CLI, npm and openapi-typescript.
# ruff: noqa: S603, S607, T201

from __future__ import annotations

import argparse
import json
import keyword
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

SDK = Path(__file__).resolve().parent
ROOT = SDK.parent
OPENAPI = SDK / "openapi.json"
PY_PACKAGE = SDK / "python" / "src" / "platform_api"
PY_MODELS = PY_PACKAGE / "models.py"
PY_ASYNC = PY_PACKAGE / "_async_client.py"
PY_SYNC = PY_PACKAGE / "_sync_client.py"
TS = SDK / "typescript"
TS_TYPES = TS / "src" / "generated" / "openapi.ts"

# A default makes a field optional to send, not required (sdk/typescript/test/generated.test.ts uses the same).
TS_FLAGS = ("--default-non-nullable", "false")
_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}


def server_document() -> str:
    """The OpenAPI document exactly as `platform-server openapi` prints it (plus the final newline)."""
    cli = ROOT / ".venv" / "bin" / "platform-server"
    env = {**os.environ, "PLATFORM_SANDBOX": "1", "PLATFORM_ENV": "development", "LOG_LEVEL": "WARNING"}
    out = subprocess.run([str(cli), "openapi"], check=True, capture_output=True, text=True, env=env, cwd=ROOT)
    return out.stdout if out.stdout.endswith("\n") else out.stdout + "\n"


def model_name(schema_name: str) -> str:
    """`Paginated_FeatureRead_` → `PaginatedFeatureRead`: FastAPI's generic names are not Python-friendly."""
    return "".join(part[:1].upper() + part[1:] for part in schema_name.split("_") if part)


def _ref_name(ref: str) -> str:
    return model_name(ref.rsplit("/", 1)[-1])


def _annotation(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return _ref_name(schema["$ref"])
    if "anyOf" in schema:
        parts: list[str] = []
        for option in schema["anyOf"]:
            rendered = _annotation(option)
            if rendered not in parts:
                parts.append(rendered)
        return " | ".join(parts)
    if "enum" in schema:
        return "Literal[" + ", ".join(json.dumps(value) for value in schema["enum"]) + "]"
    if "const" in schema:
        return f"Literal[{json.dumps(schema['const'])}]"
    kind = schema.get("type")
    if kind == "array":
        return f"list[{_annotation(schema.get('items', {}))}]"
    if kind == "object":
        extra = schema.get("additionalProperties")
        value = _annotation(extra) if isinstance(extra, dict) and extra else "Any"
        return f"dict[str, {value}]"
    if isinstance(kind, str) and kind in _SCALARS:
        return _SCALARS[kind]
    return "Any"


def _refs(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                found.add(_ref_name(value))
            else:
                found |= _refs(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _refs(value)
    return found


def _ordered(schemas: dict[str, Any]) -> list[str]:
    """Dependencies first, because the functional TypedDict form evaluates its annotations at once."""
    by_model = {model_name(name): name for name in schemas}
    done: list[str] = []
    seen: set[str] = set()

    def visit(model: str) -> None:
        if model in seen:
            return
        seen.add(model)
        for dependency in sorted(_refs(schemas[by_model[model]])):
            if dependency in by_model:
                visit(dependency)
        done.append(model)

    for model in sorted(by_model):
        visit(model)
    return [by_model[model] for model in done]


def _docstring(text: str, indent: str) -> list[str]:
    line = " ".join(text.split()).replace('"""', "'''").replace("\\", "\\\\")
    return [f'{indent}"""{line}"""']


def render_python_models(document: dict[str, Any]) -> str:
    schemas: dict[str, Any] = document["components"]["schemas"]
    out = [
        '"""Types of the Platform API\'s bodies, generated from its OpenAPI document by sdk/generate.py.',
        "",
        "Do not edit: run `python3 sdk/generate.py`. Responses are plain dicts with the wire's field names.",
        '"""',
        "",
        "from typing import Any, Literal, NotRequired, TypedDict",
        "",
        "__all__ = [",
    ]
    names = _ordered(schemas)
    out += [f'    "{model_name(name)}",' for name in sorted(names, key=model_name)]
    out += ["]", ""]
    for name in names:
        schema = schemas[name]
        model = model_name(name)
        out.append("")
        if "properties" not in schema:
            out.append(f"{model} = {_annotation(schema)}")
            if schema.get("description"):
                out += _docstring(schema["description"], "")
            continue
        required = set(schema.get("required", []))
        fields: list[tuple[str, str]] = []
        for field, spec in schema["properties"].items():
            annotation = _annotation(spec)
            fields.append((field, annotation if field in required else f"NotRequired[{annotation}]"))
        if all(field.isidentifier() and not keyword.iskeyword(field) for field, _ in fields):
            out.append(f"class {model}(TypedDict):")
            if schema.get("description"):
                out += _docstring(schema["description"], "    ")
            out += [f"    {field}: {annotation}" for field, annotation in fields]
            if not fields:
                out.append("    pass")
        else:
            # A field such as `async` cannot be a class attribute; the functional form takes any key.
            out.append(f'{model} = TypedDict("{model}", {{')
            out += [f'    "{field}": {annotation},' for field, annotation in fields]
            out.append("})")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


_UNASYNC = (
    (r"^import asyncio$", "import time"),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"\b_Async", "_"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\bAsyncPlatformClient\b", "PlatformClient"),
    (r"\bAsyncTransport\b", "SyncTransport"),
    (r"\bAsync([A-Z]\w*)", r"\1"),
    (r"\basync def\b", "def"),
    (r"\basync for\b", "for"),
    (r"\basync with\b", "with"),
    (r"\bawait ", ""),
    (r"__aenter__", "__enter__"),
    (r"__aexit__", "__exit__"),
    (r"\baclose\b", "close"),
    (r"Async resources", "Sync resources"),
)


def render_sync_client(async_source: str) -> str:
    header = "# Generated from _async_client.py by sdk/generate.py: do not edit, edit the async twin.\n"
    source = async_source
    for pattern, replacement in _UNASYNC:
        source = re.sub(pattern, replacement, source, flags=re.MULTILINE)
    return header + source


def render_typescript(document_path: Path) -> str:
    if not (TS / "node_modules" / ".bin" / "openapi-typescript").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], check=True, cwd=TS)
    out = subprocess.run(
        [str(TS / "node_modules" / ".bin" / "openapi-typescript"), str(document_path), *TS_FLAGS],
        check=True,
        capture_output=True,
        text=True,
        cwd=TS,
    )
    return out.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--no-typescript", action="store_true", help="skip the TypeScript types (no node)")
    args = parser.parse_args()

    document_text = server_document()
    document = json.loads(document_text)
    wanted: dict[Path, str] = {
        OPENAPI: document_text,
        PY_MODELS: render_python_models(document),
        PY_SYNC: render_sync_client(PY_ASYNC.read_text()),
    }
    if not args.no_typescript:
        # openapi-typescript reads a file; in --check mode that must be the live document, not the committed one.
        scratch = TS / "node_modules" / ".openapi.json"
        scratch.parent.mkdir(exist_ok=True)
        scratch.write_text(document_text)
        wanted[TS_TYPES] = render_typescript(scratch)
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)} (run python3 sdk/generate.py)", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
