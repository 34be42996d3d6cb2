"""Helpers for the page tests: Debian's Chromium under Playwright, sign-in, artefacts.

Screenshots go to ``tests/artifacts/`` (ignored by git; ``HOTLINE_ARTIFACTS``
overrides it); each test prints where it wrote them.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager
from pathlib import Path

from twisted.internet import defer

CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--autoplay-policy=no-user-gesture-required"]
ARTIFACTS = Path(os.environ.get("HOTLINE_ARTIFACTS",
                                Path(__file__).resolve().parent / "artifacts"))
FULL_HD = {"width": 1920, "height": 1080}
SECRETS = {"supervisor1": "change-me-supervisor1", "reviewer1": "change-me-reviewer1"}


def as_deferred(coro) -> defer.Deferred:
    return defer.Deferred.fromFuture(asyncio.ensure_future(coro))


#: per browser: CSP refusals and script errors seen on any of its pages
_PROBLEMS: dict[int, list[str]] = {}


def refused(message) -> bool:
    """A console message that is a CSP refusal or a script error (a 401/404 fetch the
    page expects, e.g. while signed out, is neither)."""
    return "Content Security Policy" in message.text or (
        message.type == "error" and "Failed to load resource" not in message.text
        and "EventSource" not in message.text)


@asynccontextmanager
async def chromium():
    """Debian's Chromium.  Every page of it is watched: a CSP refusal or a script
    error on any of them fails the test when the browser closes (the server sends a
    CSP with no inline script or style, issue 16)."""
    import playwright.async_api as pw

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: apt-get install -y chromium"
    async with pw.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        problems = _PROBLEMS.setdefault(id(browser), [])
        try:
            yield browser
            assert problems == [], f"CSP refusals or script errors: {problems}"
        finally:
            _PROBLEMS.pop(id(browser), None)
            await browser.close()


async def new_page(browser, lang: str = "zh", viewport=None):
    """A page in its own context (own cookies) with the language preset."""
    ctx = await browser.new_context(viewport=viewport or FULL_HD)
    await ctx.add_init_script(  # the first page load only: a reload keeps the user's choice
        f"if (!localStorage.getItem('lang')) localStorage.setItem('lang', '{lang}')")
    page = await ctx.new_page()
    problems = _PROBLEMS.setdefault(id(browser), [])
    page.on("console", lambda m: problems.append(m.text) if refused(m) else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return page


async def sign_in(page, base: str, path: str, user: str, secret: str | None = None) -> None:
    await page.goto(base + path)
    await page.fill("#login-user", user)
    await page.fill("#login-pass", secret if secret is not None else SECRETS.get(user, user))
    await page.click("#login-btn")


async def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    return path


async def unlabelled(page) -> list[str]:
    """Visible inputs with no label element, no wrapping label and no aria-label."""
    return await page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
      .filter(e => e.offsetParent !== null && e.type !== 'hidden')
      .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
      .map(e => e.id || e.name)""")
