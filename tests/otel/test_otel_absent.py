"""Without the otel extra: everything works, nothing of OpenTelemetry is imported, and asking for
the interceptor names the extra. A ``sys.meta_path`` finder refuses every ``opentelemetry``
module in a fresh interpreter, as if the packages were not installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCKER = textwrap.dedent(
    """
    import sys

    class NoOpenTelemetry:
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoOpenTelemetry())
    """
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


def test_turns_run_and_nothing_of_opentelemetry_is_imported() -> None:
    done = _run(
        """
        import asyncio
        import effecthost.interceptors, effecthost.store, effecthost.views
        from effecthost import Turn, durable_turn, open_host

        @durable_turn
        async def hello(turn: Turn) -> str:
            return await turn.step("greet", lambda: "hi")

        async def main() -> None:
            async with await open_host("memory://absent") as host:
                print(await host.run_turn(hello, session_id="s", turn_id="t"))

        asyncio.run(main())
        import effecthost.server.app  # the service too: /metrics looks for an exporter when asked
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "hi\n[]\n", "")


def test_the_interceptor_names_the_extra_to_install() -> None:
    done = _run(
        """
        from effecthost import EffectHostError
        try:
            import effecthost.contrib.otel
        except EffectHostError as error:
            print(error.code)
            print(error.message)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "extra_not_installed",
        "effecthost.contrib.otel needs the otel extra (opentelemetry-api is not installed): "
        "pip install 'effecthost[otel]'",
    ]


def test_with_the_extra_the_interceptor_imports() -> None:
    # the premise of the two tests above: without the blocker the same interpreter finds it
    done = subprocess.run(
        [sys.executable, "-c", "import effecthost.contrib.otel as m; print(m.OTelInterceptor.__name__)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "OTelInterceptor\n")


def test_with_the_api_alone_the_interceptor_keeps_out_of_the_effect_path() -> None:
    # the API installed, the SDK not: nothing can record, and the host leaves effects unwrapped
    code = """
import sys

class NoSdk:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry.sdk" or name.startswith("opentelemetry.sdk."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoSdk())
from effecthost.contrib.otel import OTelInterceptor
print(OTelInterceptor().observes_effects())
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "False\n", "")
    with_sdk = subprocess.run(
        [
            sys.executable,
            "-c",
            "from effecthost.contrib.otel import OTelInterceptor as O; print(O().observes_effects())",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert with_sdk.stdout == "True\n"
