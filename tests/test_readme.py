"""The README's quickstart is runnable as written (run twice: the second run returns the recorded
result and runs nothing)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_starts_with_the_demo_and_test_commands() -> None:
    first_block = README.read_text().split("```bash", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == ["make demo", "make test"]


def test_quickstart_runs_and_a_second_run_runs_nothing_again(tmp_path: Path) -> None:
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert code is not None
    script = tmp_path / "quickstart.py"
    script.write_text(code.group(1))
    outputs = [
        subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        for _ in range(2)
    ]
    assert [o.returncode for o in outputs] == [0, 0], [o.stderr for o in outputs]
    result = "{'sent': 'sent to ada@example.com', 'status': 200}"
    assert [o.stdout.strip() for o in outputs] == [f"fetching https://example.com\n{result}", result]
    assert (tmp_path / "agent.db").exists()
