"""``pip install effecthost`` without extras: the ``effecthost`` script names the extra to install.

Real interpreters without the packages: a venv made with ``--without-pip`` holds nothing, and
effecthost is put on its path with ``PYTHONPATH=<repo>/src`` (what an install puts in
site-packages). A second venv also sees the cli extra's distributions, and only those: their
installed files from this test environment are linked into one folder that a ``.pth`` adds to
its path, so ``serve`` meets typer and rich but no Starlette, uvicorn or h11.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
CLI_LINE = (
    "effecthost: the command line needs the cli extra (typer is not installed): "
    "pip install 'effecthost[cli]'\n"
)
SERVER_PACKAGES = {"starlette", "uvicorn", "h11"}


def make_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    return where / "bin" / "python"


def run(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Only what the interpreter needs: no VIRTUAL_ENV or PYTHONPATH of the test run leaks in.
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(SRC), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [str(python), *args], capture_output=True, text=True, env=env, check=False, timeout=30
    )


def console_script(python: Path) -> Path:
    """The ``effecthost`` script an installer writes from pyproject's [project.scripts]."""
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["effecthost"].partition(":")
    script = python.parent / "effecthost"
    script.write_text(
        f"#!{python}\nimport sys\nfrom {module} import {function}\n"
        f"if __name__ == '__main__':\n    sys.exit({function}())\n"
    )
    script.chmod(0o755)
    return script


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_venv(tmp_path_factory.mktemp("bare") / "venv")


def distributions_of(*names: str) -> dict[str, importlib.metadata.Distribution]:
    """The installed distributions ``names`` need, their requirements followed (no extras)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found:
            continue
        found[name] = dist = importlib.metadata.distribution(name)
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return found


@pytest.fixture(scope="module")
def cli_only_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-only")
    python = make_venv(root / "venv")
    dists = distributions_of("typer", "rich")
    # the premise of the test: the cli extra does not bring the server's packages along
    assert not SERVER_PACKAGES & set(dists), sorted(dists)
    site = root / "cli-site"
    site.mkdir()
    for dist in dists.values():
        for top in {file.parts[0] for file in dist.files or []} - {"..", "__pycache__"}:
            if not (site / top).exists():
                (site / top).symlink_to(Path(str(dist.locate_file(top))))
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    (Path(purelib.stdout.strip()) / "cli-extra.pth").write_text(f"{site}\n")
    return python


def test_the_bare_venv_has_no_packages(bare_python: Path) -> None:
    done = run(bare_python, "-c", "import importlib.util as u; print([u.find_spec(m) for m in ('typer', 'rich')])")
    assert done.stdout.strip() == "[None, None]"


@pytest.mark.parametrize("args", [["--help"], [], ["--version"], ["journal", "sessions"], ["serve"]])
def test_the_script_without_the_cli_extra_prints_one_line_and_exits_2(
    bare_python: Path, args: list[str]
) -> None:
    done = run(bare_python, str(console_script(bare_python)), *args)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", CLI_LINE)


@pytest.mark.parametrize("module", ["effecthost", "effecthost.cli"])
def test_python_m_without_the_cli_extra_prints_one_line_and_exits_2(bare_python: Path, module: str) -> None:
    done = run(bare_python, "-m", module, "--help")
    assert (done.returncode, done.stdout, done.stderr) == (2, "", CLI_LINE)


def test_importing_the_typer_app_without_the_cli_extra_names_it(bare_python: Path) -> None:
    done = run(bare_python, "-c", "from effecthost.cli import app")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "ModuleNotFoundError: effecthost.cli needs the cli extra (typer is not installed): "
        "pip install 'effecthost[cli]'"
    )


def test_the_library_and_its_views_need_no_extra(bare_python: Path) -> None:
    code = """
import asyncio, json
from effecthost import open_host
from effecthost.views import session_view

async def main():
    async with await open_host("memory://bare") as host:
        print(json.dumps([session_view(s) for s in await host.browser.list_sessions()]))

asyncio.run(main())
"""
    done = run(bare_python, "-c", code)
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")


def test_serve_without_the_server_extra_prints_one_line_and_exits_2(cli_only_python: Path) -> None:
    # the other commands work here: the failure is the server extra's, not the cli's
    assert run(cli_only_python, "-m", "effecthost", "--help").returncode == 0
    done = run(cli_only_python, "-m", "effecthost", "serve", "--url", "memory://x", "--port", "0")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "effecthost: serve needs the server extra (uvicorn is not installed): "
        "pip install 'effecthost[server]'\n"
    )


@pytest.mark.parametrize("module", ["effecthost.server", "effecthost.server.app", "effecthost.server.protocol"])
def test_importing_the_server_without_its_extra_names_it(cli_only_python: Path, module: str) -> None:
    done = run(cli_only_python, "-c", f"import {module}")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "ModuleNotFoundError: effecthost.server needs the server extra (starlette is not installed): "
        "pip install 'effecthost[server]'"
    )


@pytest.mark.parametrize("blocked", sorted(SERVER_PACKAGES))
def test_serve_names_the_server_extra_whichever_of_its_packages_is_missing(blocked: str) -> None:
    # A partial install (say h11 removed by hand): a None in sys.modules makes that one import fail.
    code = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        "sys.argv = ['effecthost', 'serve', '--url', 'memory://x', '--port', '0']\n"
        "from effecthost.cli import main; main()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"effecthost: serve needs the server extra ({blocked} is not installed): "
        "pip install 'effecthost[server]'\n"
    )
