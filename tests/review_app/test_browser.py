"""Protects: the console in a real browser. Headless Chromium (Debian's package, driven by Playwright,
no browser download) signs in with a password, opens the queue, approves the oldest edit, and the
database, read back through the API, holds the approval by that reviewer. A screenshot of each
page is saved under tests/output/screenshots (look at them: a page that renders but is unreadable
is a defect).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aion_assets.core.serve import free_port
from aion_assets.memory.models import EditStatus
from review_app.launch import streamlit_command

from .conftest import PASSWORD, Seeder

CHROMIUM = Path(os.environ.get("AION_CHROMIUM", "/usr/bin/chromium"))
SHOTS = Path(__file__).resolve().parents[1] / "output" / "screenshots"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]


@pytest.fixture
def console_url(console_env: object, tmp_path: Path) -> Iterator[str]:
    """`streamlit run` of the console on a loopback port, configured like the test's environment."""
    port = free_port()
    log = tmp_path / "streamlit.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(streamlit_command("127.0.0.1", port), env=dict(os.environ), stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"streamlit exited: {log.read_text()[-2000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                    break
            assert time.monotonic() < deadline, f"streamlit did not start: {log.read_text()[-2000:]}"
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def settled(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the script run has finished (a screenshot taken mid-run shows stale elements)."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=30_000)
    expect(page.locator(".st-key-approve button")).to_be_visible(timeout=30_000)


# One backend is enough for the browser path (the pages are tested on both through AppTest).
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_sign_in_and_approve_in_chromium(console_url: str, console_env, seed: Seeder,  # type: ignore[no-untyped-def]
                                         tenants: tuple[str, str]) -> None:
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}: `apt-get install -y chromium` "
                    "(make test installs it when it can)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: `make venv` installs it")
    expect, sync_playwright = sync_api.expect, sync_api.sync_playwright

    a, _ = tenants
    first, second = seed.edits(a, 2, edited_output="Hold the power button for 10 seconds, then re-pair.")
    console_env("alice", {a: ["reviewer"]})
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(console_url)
            page.get_by_role("textbox", name="Username").fill("alice")
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible(timeout=30_000)
            page.screenshot(path=str(SHOTS / "01_sign_in.png"), full_page=True)
            page.get_by_role("button", name="Sign in", exact=True).click()
            expect(page.get_by_role("heading", name="Edit review queue")).to_be_visible(timeout=30_000)
            expect(page.locator(".aion-diff .ins").first).to_be_visible(timeout=30_000)
            settled(page)
            page.screenshot(path=str(SHOTS / "02_review_queue.png"), full_page=True)
            # Typing letters that are also shortcuts (a, x, m, j, k) into a text field decides nothing.
            page.get_by_role("textbox", name="Reason to reject", exact=True).fill("")
            page.get_by_role("textbox", name="Reason to reject", exact=True).press_sequentially("max jokes")
            page.get_by_role("textbox", name="Reason to reject", exact=True).press("Tab")  # commits the text: a rerun
            settled(page)
            assert seed.read(a, first.id).status is EditStatus.pending
            page.locator(".st-key-approve button").click()
            expect(page.get_by_text("Approved.", exact=True)).to_be_visible(timeout=30_000)
            expect(page.get_by_text(f"Edit {second.id}")).to_be_visible(timeout=30_000)  # the next one
            settled(page)
            page.screenshot(path=str(SHOTS / "03_after_approve.png"), full_page=True)
            # Keyboard only: A approves the edit shown.
            page.get_by_role("heading", name="Edit review queue").click()
            page.keyboard.press("a")
            expect(page.get_by_text("No pending edits match these filters.")).to_be_visible(timeout=30_000)
            page.screenshot(path=str(SHOTS / "04_queue_empty.png"), full_page=True)
        finally:
            browser.close()
    stored = seed.read(a, first.id)
    assert (stored.status, stored.reviewer) == (EditStatus.approved, "alice")
    stored = seed.read(a, second.id)
    assert (stored.status, stored.reviewer) == (EditStatus.approved, "alice")


def _shown(page, heading: str, tables: int = 0, charts: int = 0) -> None:  # type: ignore[no-untyped-def]
    """Wait until the page titled HEADING has finished its script run and drawn TABLES tables and CHARTS charts
    (both are drawn after the run, in the browser)."""
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=30_000)
    if tables:
        expect(page.locator("[data-testid='stDataFrame'] canvas").nth(tables - 1)).to_be_visible(timeout=30_000)
    if charts:
        expect(page.locator("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg")
               .nth(charts - 1)).to_be_visible(timeout=30_000)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_registry_pages_in_chromium(console_url: str, console_env, seed: Seeder,  # type: ignore[no-untyped-def]
                                    tenants: tuple[str, str]) -> None:
    """Promotions (approved in the browser, checked through the API), models, routes with a rollback
    confirmation, and the audit log: each page is opened from the sidebar and photographed."""
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}: `apt-get install -y chromium` "
                    "(make test installs it when it can)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: `make venv` installs it")
    expect, sync_playwright = sync_api.expect, sync_api.sync_playwright
    from aion_assets.registry.models import ModelStatus
    from review_app.registry_services import short_name

    from .registry_seed import RegistrySeeder

    a, _ = tenants
    registry = RegistrySeeder(seed.base)
    v1 = registry.promoted(a, {"accuracy": (0.70, 0.66, 0.74), "faithfulness": (0.81, 0.78, 0.84),
                               "refusal_rate": (0.06, 0.04, 0.08)})
    v2 = registry.promoted(a, {"accuracy": (0.74, 0.70, 0.78), "faithfulness": (0.83, 0.80, 0.86),
                               "refusal_rate": (0.05, 0.03, 0.07)}, parent=v1)
    candidate = registry.version(a, {"accuracy": (0.79, 0.75, 0.83), "faithfulness": (0.82, 0.79, 0.85),
                                     "refusal_rate": (0.07, 0.05, 0.09)}, parent=v2, source_edit_count=412)
    registry.route(a, "support-bot", v2, v1)
    console_env("dana", {a: ["reviewer", "admin"]})
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(console_url)
            page.get_by_role("textbox", name="Username").fill("dana")
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in", exact=True).click()
            _shown(page, "Edit review queue")

            page.get_by_role("link", name="Promotions").click()
            _shown(page, "Promotions", tables=1, charts=1)
            expect(page.get_by_text(candidate.name).first).to_be_visible(timeout=30_000)
            page.screenshot(path=str(SHOTS / "05_promotions.png"), full_page=True)
            page.get_by_role("textbox", name="Comment (stored with the decision; needed to reject)").fill(
                "accuracy up, refusals within the interval")
            page.get_by_role("button", name="Approve and promote").click()
            expect(page.get_by_text(f"{candidate.name} promoted.")).to_be_visible(timeout=30_000)

            page.get_by_role("link", name="Models and lineage").click()
            _shown(page, "Models and lineage", tables=3, charts=1)
            page.screenshot(path=str(SHOTS / "06_models.png"), full_page=True)

            page.get_by_role("link", name="Routes").click()
            _shown(page, "Routes")
            page.get_by_role("button", name=f"Roll back support-bot to {short_name(v1.name)}").click()
            expect(page.get_by_role("button", name="Confirm rollback")).to_be_visible(timeout=30_000)
            _shown(page, "Routes", tables=2)
            page.screenshot(path=str(SHOTS / "07_routes_confirm.png"), full_page=True)
            page.get_by_role("button", name="Confirm rollback").click()
            expect(page.get_by_text(f"now serves {v1.name}")).to_be_visible(timeout=30_000)

            page.get_by_role("link", name="Audit log").click()
            _shown(page, "Audit log", tables=1)
            page.screenshot(path=str(SHOTS / "08_audit_log.png"), full_page=True)
        finally:
            browser.close()
    stored = registry.read(a, candidate.id)
    assert (stored.status, stored.status_changed_by) == (ModelStatus.promoted, "dana")
    assert registry.read_route(a, "support-bot").default_model_id == v1.id
