"""The README's Python examples run, as written, against the live server (so they cannot go stale)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, Server


def python_blocks(readme: Path, section: str | None = None) -> list[str]:
    text = readme.read_text()
    if section is not None:
        # Only the section's own text: from its heading to the next heading of the same level.
        start = text.index(f"\n{section}\n")
        following = re.search(r"\n## ", text[start + 1 :])
        text = text[start : start + 1 + following.start()] if following else text[start:]
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


SDK_README = python_blocks(REPO / "sdk/python/README.md")
MAIN_README = python_blocks(REPO / "README.md", "## SDKs")
EXAMPLES = [
    *(("sdk/python/README.md", n, code) for n, code in enumerate(SDK_README)),
    *(("README.md ## SDKs", n, code) for n, code in enumerate(MAIN_README)),
]


def test_the_readmes_have_examples() -> None:
    assert len([example for example in EXAMPLES if example[0] == "sdk/python/README.md"]) >= 3
    assert [example for example in EXAMPLES if example[0] == "README.md ## SDKs"]


@pytest.mark.parametrize(("readme", "index", "code"), EXAMPLES, ids=[f"{r}#{n}" for r, n, _ in EXAMPLES])
def test_example_runs(server: Server, readme: str, index: int, code: str) -> None:
    # The spec's example names its workspace 'workspace_id'; a reader puts theirs there, and so does the test.
    code = code.replace('"workspace_id")', f'"{server.workspace_id}")')
    run = subprocess.run(
        [sys.executable, "-c", code], env=server.env, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, f"{readme} example {index} failed:\n{code}\n{run.stdout}\n{run.stderr}"
