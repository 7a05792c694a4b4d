"""The benchmarks run (in --quick form), so they never rot. No timing is asserted here:
figures are measured by the benchmarks themselves, as ratios, in benchmarks/README.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, server_url: str, output: Path) -> dict:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick",
         "--database-url", server_url, "--output", str(output)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(output.read_text())


def test_write_overhead_quick(server_url: str, tmp_path: Path) -> None:
    report = run("write_overhead.py", server_url, tmp_path / "w.json")
    ratios = report["median_ratio_to_baseline"]
    assert set(ratios) == {"1 writer", "8 writers", "32 writers", "100-row x 8"}
    for per_variant in ratios.values():
        assert per_variant["baseline"] == 1.0
        assert all(r > 0 for r in per_variant.values())


def test_fanout_quick_delivers_every_event_to_every_client(server_url: str, tmp_path: Path) -> None:
    report = run("fanout.py", server_url, tmp_path / "f.json")
    for side in ("bare", "threadcast"):
        assert report[side]["errors"] == 0
        assert report[side]["connected"] == report[side]["clients"]
    # Every client of a ticket receives every note written to it, RLS and all.
    assert report["threadcast"]["deliveries"] == report["bare"]["deliveries"] > 0
