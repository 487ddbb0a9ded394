"""The operator console in a real Chromium (Debian's, through Playwright): list → filter → open a
turn → its timeline in run order → the inbox → approve → the turn completes; reject with a reason;
cancel a waiting turn; fork a failed turn; paging past 200 sessions; a deep link reloaded; a 400 px
viewport. Screenshots go to artifacts/ (gitignored)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from console_cases import TURNS
from server_support import ADMIN, live_server, make_app

from browser_support import HAVE_CHROMIUM, chromium_page, until
from effecthost import DurableEffectHost, ExecutionScope, Worker, open_host
from effecthost.testing.conformance._support import record_step

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not HAVE_CHROMIUM, reason="run `make browser-deps` for chromium"),
]


async def _ended(host: DurableEffectHost, session: str, turn: str, status: str) -> None:
    import asyncio

    for _ in range(500):
        info = await host.get_turn(session, turn)
        if info is not None and str(info.status) == status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{session}/{turn} never became {status}")


async def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


async def test_an_operator_finds_understands_and_acts_on_turns_in_the_page() -> None:
    url = f"memory://browser-console-{uuid.uuid4().hex}"
    run = uuid.uuid4().hex[:6]
    async with await open_host(url) as host:
        # 205 older sessions: the page must reach past the first 200
        for i in range(205):
            await record_step(host, ExecutionScope.turn(f"old-{i:03d}", "t"), "step")
        async with Worker(host, TURNS, suspend_after_s=0.05, poll_interval_s=0.05):
            for session, turn, amount in (
                (f"{run}-a", "t1", 5),
                (f"{run}-b", "t2", 7),
                (f"{run}-c", "t3", 9),
            ):
                await host.start_turn(
                    "console-approval", session_id=session, turn_id=turn, input={"amount": amount}
                )
            await host.start_turn("console-flaky", session_id=f"{run}-f", turn_id="t4", input={"run": run})
            for session, turn, status in (
                (f"{run}-a", "t1", "waiting"),
                (f"{run}-b", "t2", "waiting"),
                (f"{run}-c", "t3", "waiting"),
                (f"{run}-f", "t4", "failed"),
            ):
                await _ended(host, session, turn, status)
            async with live_server(make_app(url)) as base, chromium_page(playwright_api) as watched:
                page = watched.page
                prompts: list[str] = []

                async def answer(dialog: Any) -> None:
                    prompts.append(dialog.message)
                    if dialog.type == "prompt" and "how many" in dialog.message:
                        await dialog.accept("1")
                    elif dialog.type == "prompt":
                        await dialog.accept(dialog.default_value)
                    else:
                        await dialog.accept()

                page.on("dialog", answer)
                await page.goto(f"{base}/?token={ADMIN}#/turns")
                await until(page, "() => document.querySelectorAll('#turns tbody tr').length >= 4")
                await _shot(page, "turns")

                # filter by status: the URL says so, the rows agree
                await page.select_option("#turn-filters select[name=status]", "waiting")
                await page.click("#turn-filters button[type=submit]")
                await until(page, "() => location.hash.includes('status=waiting')")
                await until(
                    page,
                    "() => [...document.querySelectorAll('#turns tbody tr')].every(r => r.dataset.status === 'waiting')",
                )
                shown = await page.eval_on_selector_all(
                    "#turns tbody tr", "rs => rs.map(r => r.dataset.session)"
                )
                assert {f"{run}-a", f"{run}-b", f"{run}-c"} <= set(shown) and f"{run}-f" not in shown

                # open turn a: its timeline, in run order, with the question
                await page.click(f"#turns tbody tr[data-session='{run}-a'] a")
                # (a suspended wait's own effect is journaled when the answer comes: 2 so far)
                await until(page, "() => document.querySelectorAll('#timeline li').length === 2")
                seqs = await page.eval_on_selector_all(
                    "#timeline li", "ls => ls.map(l => Number(l.dataset.seq))"
                )
                assert seqs == [1, 2]
                assert "refund" in await page.locator("#timeline li[data-seq='2'] .question").inner_text()
                await _shot(page, "turn-waiting")

                # the inbox: approve a, reject b with a reason
                await page.click("nav a[data-view=inbox]")
                card_a = page.locator(f".wait-card[data-session='{run}-a']")
                await card_a.wait_for()
                assert "amount" in await card_a.locator(".question").inner_text()
                await _shot(page, "inbox")
                await card_a.locator("button.approve").click()
                await _ended(host, f"{run}-a", "t1", "completed")
                card_b = page.locator(f".wait-card[data-session='{run}-b']")
                await card_b.locator("input[name=reason]").fill("over the limit")
                await card_b.locator("button.reject").click()
                try:
                    await _ended(host, f"{run}-b", "t2", "completed")
                except AssertionError:
                    said = await page.evaluate(
                        "() => [document.getElementById('flash').textContent, [...document.querySelectorAll('.wait-card')].map(c => c.dataset.session + ':' + c.querySelector('.result').textContent)]"
                    )
                    raise AssertionError(said) from None
                info_b = await host.get_turn(f"{run}-b", "t2")
                assert (
                    info_b is not None and info_b.result["answer"]["payload"]["message"] == "over the limit"
                )

                # the completed turn's timeline says who answered (the admin token's name)
                await page.goto(f"{base}/#/turn?session={run}-a&turn=t1")
                await until(
                    page, "() => document.querySelector('#timeline li[data-seq=\"3\"] .who') !== null"
                )
                assert await page.locator("#timeline li[data-seq='3'] .who").inner_text() == "admin"
                # each effect says which drive executed it and which replayed it: the first drive
                # ran the plan and parked; the approval's drive replayed it and took the answer
                info_a = await host.get_turn(f"{run}-a", "t1")
                assert info_a is not None
                last = info_a.meta["drives"][-1][0]
                plan = page.locator("#timeline li[data-seq='1'] .drives")
                assert (await plan.get_attribute("data-executed"), await plan.get_attribute("data-replayed")) == (
                    "1",
                    ",".join(str(n) for n in range(2, last + 1)),
                )
                assert (await plan.inner_text()).startswith("d1 ↻2")
                assert "replayed by drive" in (await plan.get_attribute("aria-label") or "")
                answer = page.locator("#timeline li[data-seq='3'] .drives")
                assert await answer.inner_text() == f"d{last}"

                # cancel the waiting turn c, with confirmation
                await page.goto(f"{base}/#/turn?session={run}-c&turn=t3")
                await until(page, "() => document.getElementById('turn-name').textContent.endsWith('/ t3')")
                await until(page, "() => !document.getElementById('turn-cancel').disabled")
                await page.click("#turn-cancel")
                await _ended(host, f"{run}-c", "t3", "cancelled")

                # fork the failed turn f from its first effect: the fork completes
                await page.goto(f"{base}/#/turn?session={run}-f&turn=t4")
                await until(page, "() => document.getElementById('turn-name').textContent.endsWith('/ t4')")
                await until(page, "() => document.querySelector('#turn-error [role=alert]') !== null")
                assert "turn_step_failed" in await page.locator("#turn-error").inner_text()
                await page.click("#turn-fork")
                await _ended(host, f"{run}-f", "t4-fork-1", "completed")
                await until(page, "() => location.hash.includes('t4-fork-1')")

                # a deep link survives a reload
                await page.goto(f"{base}/#/turn?session={run}-a&turn=t1&effect=2")
                await page.reload()
                await until(page, "() => document.querySelector('#effect-2.focus') !== null")

                # the sessions view pages past 200 sessions (keyset pages, after=): every session
                # once. Many were recorded in the same millisecond, so which one comes last is the
                # ids' order within that millisecond: the pages are checked whole, not by one row
                await page.goto(f"{base}/#/sessions")
                await until(page, "() => document.querySelectorAll('#sessions tbody tr').length === 100")
                rows = "() => [...document.querySelectorAll('#sessions tbody tr')].map((r) => r.dataset.session)"
                pages: list[list[str]] = [await page.evaluate(rows)]
                for _ in range(2):  # each click shows the next page
                    top = pages[-1][0]
                    await page.click("#sessions-next")
                    await until(
                        page,
                        f"() => document.querySelector('#sessions tbody tr').dataset.session !== {top!r}",
                    )
                    pages.append(await page.evaluate(rows))
                listed = [session for rows_of_page in pages for session in rows_of_page]
                assert len(listed) == len(set(listed)), "a session listed on two pages"
                assert {f"old-{i:03d}" for i in range(205)} <= set(listed)
                assert [len(rows_of_page) for rows_of_page in pages[:2]] == [100, 100]
                assert await page.locator("#sessions-next").is_hidden()  # the last page
                await page.click("#sessions-prev")  # back: the page before, from its cursor
                await until(
                    page,
                    f"() => document.querySelector('#sessions tbody tr').dataset.session === {pages[1][0]!r}",
                )

                # live: with nothing changing the page polls only the change feed; a turn started
                # elsewhere shows up without a reload
                await page.goto(f"{base}/#/turns")
                await until(page, "() => document.querySelectorAll('#turns tbody tr').length >= 4")
                reads: list[str] = []
                page.on(
                    "request",
                    lambda r: (
                        reads.append(r.url.split("/v1/")[-1].split("?")[0]) if "/v1/" in r.url else None
                    ),
                )
                await page.wait_for_timeout(4500)
                assert set(reads) == {"changes"}, reads
                await host.start_turn(
                    "console-approval", session_id=f"{run}-live", turn_id="t9", input={"amount": 1}
                )
                await until(
                    page,
                    f"() => document.querySelector(\"#turns tbody tr[data-session='{run}-live']\") !== null",
                )

                # 400 px wide: nothing sticks out sideways
                await page.set_viewport_size({"width": 400, "height": 860})
                await page.goto(f"{base}/#/turn?session={run}-f&turn=t4")
                await until(page, "() => document.querySelectorAll('#timeline li').length >= 2")
                assert await page.evaluate("() => document.documentElement.scrollWidth") <= 400
                await _shot(page, "narrow-turn")
                await page.goto(f"{base}/#/inbox")
                await page.locator("#inbox-view").wait_for()
                assert await page.evaluate("() => document.documentElement.scrollWidth") <= 400
                await _shot(page, "narrow-inbox")

                assert watched.console_errors == []
                assert await watched.csp_violations() == []
                assert any("Cancel this turn" in p for p in prompts)
