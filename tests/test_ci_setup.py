"""`.ci/run` (through scripts/test) installs every JavaScript package with `npm ci` from its
lockfile and never downloads a browser: the browser tests drive Debian's /usr/bin/chromium
(tests/browser/conftest.py), and no locked package fetches a browser of its own."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUP = (ROOT / "scripts" / "test").read_text()
CI = (ROOT / ".ci" / "run").read_text()

# Packages that download a browser (or a driver) when they are installed or first run.
BROWSER_DOWNLOADERS = {
    "puppeteer",
    "playwright",
    "playwright-core",
    "@playwright/test",
    "chromedriver",
    "selenium-webdriver",
    "electron",
}


def packages() -> list[Path]:
    """The directories scripts/test installs: clients/* and examples/* with a package.json."""
    found = sorted(
        p.parent
        for p in (*ROOT.glob("clients/*/package.json"), *ROOT.glob("examples/*/package.json"))
    )
    assert {p.name for p in found} >= {"js", "react-query"}
    return found


def test_ci_installs_every_package_with_npm_ci_from_its_lockfile() -> None:
    assert "scripts/test" in CI
    assert "npm ci" in SETUP and "npm install" not in SETUP
    for package in packages():
        assert (package / "package-lock.json").is_file(), f"{package}: commit its lockfile"


def test_no_locked_package_downloads_a_browser() -> None:
    for package in packages():
        lock = json.loads((package / "package-lock.json").read_text())
        names = {path.rsplit("node_modules/", 1)[-1] for path in lock["packages"] if path}
        assert not names & BROWSER_DOWNLOADERS, f"{package}: {sorted(names & BROWSER_DOWNLOADERS)}"
    for script in (SETUP, CI):
        assert "playwright install" not in script
