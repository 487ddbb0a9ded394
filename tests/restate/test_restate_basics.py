"""The controller's kit vectors inside a real Restate handler, and the server's name look-ups
(a turn's steps run once: tests/engine_turn_cases.py, shared with Temporal)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from restate_stack import Stack


@pytest.mark.parametrize("vector", ["durable_steps_replay", "concurrent_replay", "mismatch"])
async def test_controller_vectors_inside_a_handler(restate_stack: Stack, vector: str) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{restate_stack.server.ingress_url}/EffecthostTestVectors/run_vector", json=vector
        )
    assert response.status_code == 200, response.text
    assert response.json().startswith("ok"), response.json()


def test_the_server_resolves_names_only_on_loopback(restate_stack: Stack) -> None:
    """restate-server looks up api.github.com at start (a release check no option turns off): in
    tests it sees a resolv.conf of its own that names 127.0.0.1, so no look-up leaves the machine."""
    process = restate_stack.server.process
    assert process is not None
    seen = Path(f"/proc/{process.pid}/root/etc/resolv.conf").read_text()
    nameservers = [line.split()[1] for line in seen.splitlines() if line.startswith("nameserver")]
    assert nameservers == ["127.0.0.1"]
    assert Path(f"/proc/{process.pid}/exe").resolve().name == "restate-server"  # the PID we stop
