"""The benchmarks run (in --quick form), so they never rot. No timing is asserted here:
figures are measured by the benchmarks themselves, as ratios, in benchmarks/README.md."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, server_url: str, output: Path) -> dict:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick",
         "--database-url", server_url, "--output", str(output)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(output.read_text())


def test_write_overhead_quick(server_url: str, tmp_path: Path) -> None:
    report = run("write_overhead.py", server_url, tmp_path / "w.json")
    ratios = report["median_ratio_to_baseline"]
    assert set(ratios) == {"1 writer", "8 writers", "32 writers", "100-row x 8", "update x 1"}
    for per_variant in ratios.values():
        assert per_variant["baseline"] == 1.0
        assert all(r > 0 for r in per_variant.values())
    # Edits run only where updates are captured, the shipped capture and its predecessor.
    assert set(ratios["update x 1"]) == {"baseline", "threadcast", "update_0008"}


@pytest.mark.parametrize("setting", ["off", "on"])
def test_write_overhead_gives_its_writers_the_synchronous_commit_asked_for(
    empty_database_url: str, setting: str
) -> None:
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))
    import write_overhead

    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("create table seen (setting text)")
        # The database's own default is the other value, so only the option can give this one.
        conn.execute(
            sql.SQL("alter database {} set synchronous_commit = {}").format(
                sql.Identifier(conn.info.dbname), sql.SQL(_other(setting))
            )
        )
    script = "insert into seen values (current_setting('synchronous_commit'));\n"
    ids = dict.fromkeys(("thread", "ticket", "user", "note"), "x")
    assert write_overhead.run_pgbench(empty_database_url, script, 1, 1, ids, setting) > 0
    with psycopg.connect(empty_database_url) as conn:
        seen = conn.execute("select distinct setting from seen").fetchall()
    assert seen == [(setting,)]


def _other(setting: str) -> str:
    return "on" if setting == "off" else "off"


def test_fanout_quick_delivers_every_event_to_every_client(server_url: str, tmp_path: Path) -> None:
    report = run("fanout.py", server_url, tmp_path / "f.json")
    for side in ("bare", "threadcast"):
        assert report[side]["errors"] == 0
        assert report[side]["connected"] == report[side]["clients"]
    # Every client of a ticket receives every note written to it, RLS and all.
    assert report["threadcast"]["deliveries"] == report["bare"]["deliveries"] > 0


def test_multi_channel_quick_connects_every_stream_of_both_layouts(
    server_url: str, tmp_path: Path
) -> None:
    report = run("multi_channel.py", server_url, tmp_path / "m.json")
    multi, single = report["layouts"]["multi"], report["layouts"]["single"]
    # 20 clients x 3 channels: 20 streams, or 60.
    assert (multi["clients"], single["clients"]) == (20, 60)
    for layout in (multi, single):
        assert layout["errors"] == 0
        assert layout["connected"] == layout["clients"]
        assert layout["deliveries"] > 0
    assert set(report["ratio_multi_to_single"]) == {
        "sockets", "server_rss_mib", "server_cores", "deliveries_per_s"
    }  # fmt: skip


def test_presence_quick_delivers_typing_and_measures_its_storage(
    server_url: str, tmp_path: Path
) -> None:
    report = run("presence.py", server_url, tmp_path / "p.json")
    load = report["load"]
    assert load["connected"] == 20
    assert load["stream_errors"] == load["put_errors"] == 0
    # 20 clients over 4 tickets toggling every 2 s: 10 updates/s, each to its 5 viewers.
    assert load["typing"]["deliveries_per_s"] > 0
    assert load["typing"]["latency_ms"]["p50"] is not None
    assert load["idle"]["deliveries_per_s"] == 0
    storage = report["storage"]
    # The choice the benchmark justifies: the unlogged table writes far less WAL.
    unlogged = storage["unlogged table + NOTIFY"]["wal_bytes_per_update"]
    assert unlogged < storage["logged table + NOTIFY"]["wal_bytes_per_update"] / 5
    assert unlogged < storage["durable log (realtime.send)"]["wal_bytes_per_update"] / 5


def test_notify_throughput_quick_loses_nothing(server_url: str, tmp_path: Path) -> None:
    report = run("notify_throughput.py", server_url, tmp_path / "n.json")
    assert report["medians"]["bare"]["notifications_per_s"] > 0
    for window in ("0", "5"):
        m = report["medians"][window]
        assert m["events_per_s"] > 0
        assert m["reads_per_identity_per_s"] > 0
        assert m["missing_total"] == m["duplicates_total"] == m["errors_total"] == 0


def test_resume_storm_quick_every_client_gets_exactly_its_events(
    server_url: str, tmp_path: Path
) -> None:
    report = run("resume_storm.py", server_url, tmp_path / "r.json")
    assert report["totals"] == {
        "lost": 0, "duplicates": 0, "foreign": 0, "failed": 0, "fresh_failed": 0,
    }  # fmt: skip
    for r in report["rounds"]:
        assert r["resume"]["ok"] == r["resume"]["clients"]
        assert r["resume"]["received"] == report["parameters"]["events"] * 10  # 10 per ticket


def test_idle_memory_quick_holds_every_connection(server_url: str, tmp_path: Path) -> None:
    report = run("idle_memory.py", server_url, tmp_path / "i.json")
    for side in ("bare", "threadcast"):
        for r in report["runs"][side]:
            assert r["open"] == r["connections"]
            assert r["failed"] == r["dropped_while_idle"] == 0
            assert r["rss_after_mib"] > 0


def test_sql_costs_quick_measures_reads_and_ticks(server_url: str, tmp_path: Path) -> None:
    report = run("sql_costs.py", server_url, tmp_path / "s.json")
    reads = report["read_batch_ms_per_identity"]
    assert len(reads) == 8 and all(ms > 0 for ms in reads.values())
    for pages in (8, 128):
        tick = report["tick"][f"{pages} pages per range"]
        assert tick["tick_ms_unsummarized"] > 0 and tick["tick_ms_summarized"] > 0
    # A derived rule and the hand-written one, each shape, 1 and 5 events: both measured, and
    # the two let exactly the same users read the same events (members see every message, each
    # user only their own note).
    rules = report["derived_vs_hand_written_rule"]
    assert len(rules) == 4
    for key, r in rules.items():
        assert r["same_result"] is True
        assert r["derived_ms_per_identity"] > 0 and r["hand_written_ms_per_identity"] > 0
        events = 5 if "5 event" in key else 1
        readers = report["parameters"]["rule_identities"] if key.startswith("messages") else 1
        assert r["visible_rows"] == events * readers


@pytest.mark.skipif(not shutil.which("valgrind"), reason="needs valgrind (.ci/run installs it)")
def test_capture_cost_quick_counts_what_the_capture_adds(server_url: str, tmp_path: Path) -> None:
    report = run("capture_cost.py", server_url, tmp_path / "c.json")
    added = report["capture_instructions_per_insert"]
    assert added["baseline"] == 0
    # An insert plus a second insert into the log, with a JSON copy of the row, costs more
    # than the insert alone: a count that does not see the trigger is broken.
    assert added["threadcast"] > 10_000
    assert report["instructions_per_insert"]["baseline"] > 10_000
