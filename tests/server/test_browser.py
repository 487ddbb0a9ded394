"""The operator page in a real headless Chromium against a live server with a parked turn.

Uses Debian's /usr/bin/chromium (``make browser-deps``); Playwright never downloads a browser here.
Every page runs under the served Content-Security-Policy, and a test fails on any CSP violation or
console error: the page must work with no inline script, no eval and nothing from elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from server_support import ADMIN, live_server, make_app, park_turn

from browser_support import HAVE_CHROMIUM, chromium_page, until
from effecthost import DurableEffectHost, ExecutionScope, Resolution
from effecthost.testing.conformance._support import record_step

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not HAVE_CHROMIUM, reason="run `make browser-deps` for chromium"),
]


async def test_page_resolves_a_pending_event_through_the_form(
    host_url: str, host: DurableEffectHost
) -> None:
    async with live_server(make_app(host_url)) as base, chromium_page(playwright_api) as watched:
        page = watched.page
        turn = await park_turn(host, "support-42", turn_id="turn-3", call_id="approve-refund")
        loaded = await page.goto(f"{base}/?token={ADMIN}")
        assert "script-src 'self'" in loaded.headers["content-security-policy"]
        # the token leaves the address bar once it is in sessionStorage
        await until(page, "() => !location.search.includes('token')")
        await page.click("#sessions tbody tr[data-session='support-42']")
        form = page.locator("form.wait")
        await form.wait_for()
        await page.locator(".badge.completed").first.wait_for()
        await form.locator("textarea[name=payload]").fill('{"approved": true, "amount": 42}')
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "page-pending.png"), full_page=True)
        await form.locator("button[type=submit]").click()
        outcome = await turn.task
        assert outcome.resolution == Resolution.ok({"approved": True, "amount": 42})  # type: ignore[attr-defined]
        await page.locator("#flash.ok").wait_for()
        assert "accepted" in await page.locator("#flash").inner_text()
        # the refreshed page shows the await row completed and no pending form
        await page.locator("#no-waits:not([hidden])").wait_for()
        await until(page, "() => document.querySelectorAll('#scopes .badge.completed').length === 2")
        await page.screenshot(path=str(ARTIFACTS / "page-resolved.png"), full_page=True)
        assert watched.console_errors == []
        assert await watched.csp_violations() == []


async def test_page_shows_every_effect_of_a_scope_longer_than_one_api_page(
    host_url: str, host: DurableEffectHost
) -> None:
    """/v1/effects answers at most 1000 rows a call; the page reads on by keyset (``after`` =
    the previous page's ``next``) until a page without ``next``."""
    rows = 1003
    scope = ExecutionScope.turn("long-1", "turn-1")
    for i in range(rows):
        await record_step(host, scope, f"step-{i:04d}")
    afters: list[str | None] = []

    def seen(request: Any) -> None:
        if "/v1/effects?" in request.url:
            query = parse_qs(urlsplit(request.url).query)
            assert "offset" not in query
            afters.append(query["after"][0] if "after" in query else None)

    async with live_server(make_app(host_url)) as base, chromium_page(playwright_api) as watched:
        page = watched.page
        page.on("request", seen)
        await page.goto(f"{base}/?token={ADMIN}")
        await page.click("#sessions tbody tr[data-session='long-1']")
        await until(page, f"() => document.querySelectorAll('#scopes tbody tr').length === {rows}")
        shown = await page.eval_on_selector_all(
            "#scopes tbody tr", "trs => trs.map(tr => tr.dataset.replayKey)"
        )
        assert shown == [f"step-{i:04d}" for i in range(rows)]
        # the first page, then the rest from its cursor (again on each refresh, which under load
        # may start before the second read): never an offset, and only the first page's cursor
        cursors = {after for after in afters if after is not None}
        assert afters[0] is None and len(cursors) == 1
        assert watched.console_errors == []
        assert await watched.csp_violations() == []
