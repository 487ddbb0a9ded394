"""Without the pydantic-ai extra, importing the integration names the extra to install (a real
interpreter without any package: a venv made with ``--without-pip``, effecthost on its path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.timeout(60)
def test_importing_without_the_extra_names_it(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    python = tmp_path / "venv" / "bin" / "python"
    probe = (
        "import effecthost\n"
        "try:\n"
        "    import effecthost.integrations.pydantic_ai\n"
        "except effecthost.EffectHostError as error:\n"
        "    print(error.code, error.message)\n"
    )
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(SRC), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "extra_not_installed effecthost.integrations.pydantic_ai needs pydantic_ai:"
        " pip install 'effecthost[pydantic-ai]'\n"
    )
