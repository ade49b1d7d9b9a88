"""`scripts/dev.py test` runs the suite in parallel unless told otherwise."""

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "dev.py"


def _dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_script", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("given", "passed"),
    [
        ([], ["-n", "auto"]),
        (["tests/features", "-q"], ["-n", "auto", "tests/features", "-q"]),
        (["-n", "2", "-p", "no:cacheprovider"], ["-n", "2", "-p", "no:cacheprovider"]),
        (["-n0"], ["-n0"]),
        (["--numprocesses=3"], ["--numprocesses=3"]),
        (["-p", "no:xdist"], ["-p", "no:xdist"]),
        (["--version"], ["-n", "auto", "--version"]),
    ],
)
def test_parallel_unless_the_arguments_choose(given: list[str], passed: list[str]) -> None:
    assert _dev().pytest_arguments(given) == passed
