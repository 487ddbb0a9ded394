"""Debian's Chromium under Playwright, for the page tests; Playwright never downloads a browser here."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("EFFECTHOST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # every hostname but the test server's resolves to nothing, inside Chromium: its component
    # updater looked up update.googleapis.com through the machine's resolver in spite of the flags
    # above, and a test sends no traffic beyond 127.0.0.1
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
HAVE_CHROMIUM = Path(CHROMIUM).exists()

# Injected through CDP before any page script runs (so the page's own CSP does not apply to it):
# every CSP violation the page causes is recorded for the test to assert on.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


@dataclass
class WatchedPage:
    """A page plus what went wrong in it: console errors (CSP reports land there too)."""

    page: Any
    console_errors: list[str] = field(default_factory=list)

    async def csp_violations(self) -> list[str]:
        found: list[str] = await self.page.evaluate("window.__cspViolations")
        return found


@contextlib.asynccontextmanager
async def chromium_page(playwright_api: Any) -> AsyncIterator[WatchedPage]:
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            watched = WatchedPage(page)
            await page.add_init_script(RECORD_CSP_VIOLATIONS)

            def on_console(message: Any) -> None:
                if message.type == "error":
                    watched.console_errors.append(f"{message.text} ({message.location.get('url')})")

            def on_response(response: Any) -> None:
                if response.status >= 400:
                    watched.console_errors.append(f"{response.status} {response.url}")

            page.on("console", on_console)
            page.on("response", on_response)
            yield watched
        finally:
            await browser.close()


async def until(page: Any, predicate: str, arg: Any = None, *, within_s: float = 60.0) -> None:
    """Poll a JS function of ``arg`` until it returns truthy; after ``within_s`` fail naming the
    predicate and the page's location (a stuck step says which, before the test's timeout).

    Not ``page.wait_for_function``: that polls by ``eval`` inside the page, which the page's CSP
    (no 'unsafe-eval') refuses. ``page.evaluate`` goes through the debugger protocol instead.
    """
    deadline = asyncio.get_running_loop().time() + within_s
    while not await page.evaluate(predicate, arg):  # a page has no event to await: poll
        if asyncio.get_running_loop().time() > deadline:
            where = await page.evaluate("() => location.href")
            raise AssertionError(f"after {within_s} s the page never saw {predicate} (at {where})")
        await asyncio.sleep(0.02)
