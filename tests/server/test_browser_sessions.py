"""The page acts on exactly the session it shows, whatever the session id holds (`..`, `/`, `\\n`).

Regression: the page used to put ids into URL paths segment by segment, so the browser resolved
`evil/../victim` to `victim` and Cancel / Revoke / Retire hit the victim.
"""

from __future__ import annotations

from typing import Any

import pytest
from server_support import ADMIN, ParkedTurn, live_server, make_app, park_turn

from browser_support import HAVE_CHROMIUM, chromium_page, until
from effecthost import (
    DurableEffectHost,
    EffectHostError,
    ExecutionScope,
    Resolution,
    ResolveOutcome,
    WaitIdentity,
)

playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not HAVE_CHROMIUM, reason="run `make browser-deps` for chromium"),
]

VICTIM = "victim"
ATTACKERS = ["evil/../victim", "..", "line\nbreak"]

_SHOWN = """id => document.getElementById('detail-session').textContent === id
  && document.querySelectorAll('#scopes .scope-title').length > 0
  && [...document.querySelectorAll('#scopes .scope-title')].every(t => t.textContent.includes('session_id=' + id + ' '))"""
_FLASHED = "([action, id]) => document.getElementById('flash').textContent.startsWith(action + ' ' + id + ':')"


def _css_string(value: str) -> str:
    """``value`` as a CSS string literal (a newline is the escape ``\\a ``)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ")
    return f'"{escaped}"'


async def _select(page: Any, session_id: str) -> None:
    # a locator, not an element handle: a refresh may rebuild the rows, the locator finds it again
    await page.locator(f"#sessions tbody tr[data-session={_css_string(session_id)}]").click()
    await until(page, _SHOWN, session_id)


async def _shown_wait_ids(page: Any) -> list[str]:
    ids: list[str] = await page.eval_on_selector_all(
        "#waits form.wait", "forms => forms.map(f => f.dataset.keyId)"
    )
    return ids


async def _act(page: Any, button: str, action: str, session_id: str) -> None:
    await page.click(button)
    await until(page, _FLASHED, [action, session_id])
    assert await page.locator("#flash").get_attribute("class") == "ok"


async def _revoked(host: DurableEffectHost, session_id: str) -> bool:
    try:
        await host.await_event_key(ExecutionScope.turn(session_id, "later"), WaitIdentity.custom("x"))
    except EffectHostError as exc:
        assert exc.code == "await_event_unknown_or_revoked"
        return True
    return False


async def _effects(host: DurableEffectHost, session_id: str) -> int:
    return sum(s.effects for s in await host.browser.list_scopes(session_id))


async def _assert_victim_untouched(host: DurableEffectHost, victim: ParkedTurn) -> None:
    assert await host.peek_await_event(victim.key) is None
    assert not victim.task.done()
    assert await host.list_outstanding_await_event_keys(VICTIM) == [victim.key]
    assert not await _revoked(host, VICTIM)
    assert await _effects(host, VICTIM) == 2


async def test_actions_hit_the_selected_session_never_a_dot_segment_lookalike(
    host_url: str, host: DurableEffectHost
) -> None:
    victim = await park_turn(host, VICTIM, call_id="victim-call")
    attackers = {sid: await park_turn(host, sid, call_id=f"call-{i}") for i, sid in enumerate(ATTACKERS)}
    try:
        await _drive_the_page(host_url, host, victim, attackers)
    finally:
        for turn in [victim, *attackers.values()]:
            turn.task.cancel()  # a failed run must not leave waiters behind the closing host
    again = await host.resolve_await_event(victim.key, Resolution.ok(1))
    assert again == ResolveOutcome.already_resolved(Resolution.CANCELLED)


async def _drive_the_page(
    host_url: str, host: DurableEffectHost, victim: ParkedTurn, attackers: dict[str, ParkedTurn]
) -> None:
    async with live_server(make_app(host_url)) as base, chromium_page(playwright_api) as watched:
        page = watched.page

        async def accept(dialog: Any) -> None:
            await dialog.accept()  # Revoke and Retire ask first

        page.on("dialog", accept)
        loaded = await page.goto(f"{base}/?token={ADMIN}")
        assert "frame-ancestors 'none'" in loaded.headers["content-security-policy"]
        await page.uncheck("#auto-refresh")  # the rows must not be rebuilt under a click
        for session_id, turn in attackers.items():
            await _select(page, session_id)
            # what the page shows is this session's wait, not the victim's
            await until(
                page,
                "id => [...document.querySelectorAll('#waits form.wait')].map(f => f.dataset.keyId).join() === id",
                turn.key.key_id,
            )
            assert await _shown_wait_ids(page) == [turn.key.key_id]

            await _act(page, "#cancel-session", "cancel", session_id)
            await _assert_victim_untouched(host, victim)
            # the rows are the truth the moment the answer is in; the waiter then wakes on it
            assert await host.peek_await_event(turn.key) == Resolution.CANCELLED
            assert (await turn.task).resolution == Resolution.CANCELLED  # type: ignore[attr-defined]
            await page.locator("#no-waits:not([hidden])").wait_for()

            await _act(page, "#revoke-session", "revoke", session_id)
            await _assert_victim_untouched(host, victim)
            assert await _revoked(host, session_id)

            assert await _effects(host, session_id) == 2
            await _act(page, "#retire-session", "retire", session_id)
            await _assert_victim_untouched(host, victim)
            assert await _effects(host, session_id) == 0

        # the victim's own controls still work, and on the victim
        await _select(page, VICTIM)
        assert await _shown_wait_ids(page) == [victim.key.key_id]
        await _act(page, "#cancel-session", "cancel", VICTIM)
        assert (await victim.task).resolution == Resolution.CANCELLED  # type: ignore[attr-defined]
        assert watched.console_errors == [], watched.console_errors
        assert await watched.csp_violations() == []
