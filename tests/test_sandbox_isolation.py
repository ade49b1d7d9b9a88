"""Production never loads the simulated providers: the sandbox package is imported only in sandbox mode.

Each check runs in a fresh interpreter, so modules other tests imported cannot hide (or fake) an import.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

_SCRIPT = """
import sys
from platform_server.app import create_app
from platform_server.config import Settings

app = create_app(Settings())
app.openapi()
print("\\n".join(sorted(name for name in sys.modules if name.startswith("platform_server.sandbox"))))
"""


def _sandbox_modules_loaded(tmp_path: Path, **env: str) -> list[str]:
    source = Path(__file__).resolve().parents[1] / "src"
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(source),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'platform.db'}",
        "SECRET_KEY": "isolation-test-secret-key-with-enough-characters",
        **env,
    }
    # The working directory holds no .env file, so only the settings given here apply.
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT], cwd=tmp_path, env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize("environment", ["production", "development"])
def test_the_app_without_sandbox_mode_loads_no_sandbox_module(tmp_path: Path, environment: str) -> None:
    assert _sandbox_modules_loaded(tmp_path, PLATFORM_ENV=environment, PLATFORM_SANDBOX="false") == []


def test_sandbox_mode_loads_the_sandbox(tmp_path: Path) -> None:
    assert "platform_server.sandbox" in _sandbox_modules_loaded(
        tmp_path, PLATFORM_ENV="development", PLATFORM_SANDBOX="true"
    )
