"""Two costs inside PostgreSQL that bound the relay, measured with no server in the way:

1. Reading as users: `realtime.read_batch()` over N agents (each a distinct user) for 1 and for
   5 events, per identity; and the same with one fixed identity repeated, which shows what the
   identity switching itself adds.
   Each with the generic plans read_batch() is set to use, and with PostgreSQL's default
   (custom plans, re-planned per identity) as the baseline.
2. `realtime.tick()` after many unsummarized log rows, then after `realtime.summarize()`, with
   the log's BRIN index at 8 pages per range (as shipped) and at the default 128.
3. Reading a batch as users on a table whose log rule realtime.enable() derived from its
   policies, against the same table, the same events and the same users with the rule written
   by hand (the baseline), in turns: the team chat of tests/data/chat_app.sql on the engine
   alone, for two policy shapes (its messages: a subquery through the channels' own policies,
   own rows, a restrictive policy; and rows of one's own only, `owner = auth.uid()`). Expected:
   the same cost (ratio 1). With a subquery neither rule can be inlined, and both run the same
   subquery; without one, the derived rule is a function of the columns it reads, which
   PostgreSQL inlines into the log's policy as it inlines the hand-written one. (Before
   realtime_0006 turned JIT off in read_batch(), PostgreSQL 15 JIT-compiled the subquery rule's
   query on every call, for either rule: about 240 ms per reader for 1 event, 1.2 s for 5.)

    .venv/bin/python benchmarks/sql_costs.py              # 1,000 identities, 20,000 rows
    .venv/bin/python benchmarks/sql_costs.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid

import psycopg

from common import (
    RESULTS,
    ROOT,
    create_database,
    drop_database,
    logger,
    machine,
    recorded_parameters,
    seed,
)
from threadcast import migrations

log = logger("sql_costs")

CHAT_SQL = ROOT / "tests" / "data" / "chat_app.sql"
# Per policy shape: the table, its topic, and the visibility function a team would write by
# hand for it, repeating its policies (the baseline; the derived rule is realtime.enable()'s).
SHAPES = {
    "messages (subqueries)": (
        "chat.messages",
        "channel:{channel_id}",
        "chat.message_visible(chat.messages)",
        """
        create function chat.message_visible(m chat.messages) returns boolean
        language sql stable as $$
            select (m.channel_id in (select c.id from chat.channels c)
                    or (select auth.uid()) = m.user_id)
               and (not m.hidden or auth.uid() = m.user_id)
        $$;
        """,
    ),
    "own rows (owner = auth.uid())": (
        "chat.notes",
        "notes:{id}",
        "chat.note_visible(chat.notes)",
        """
        create table chat.notes (id bigint primary key, owner uuid not null, body text);
        alter table chat.notes enable row level security;
        create policy own on chat.notes for select to authenticated using (owner = auth.uid());
        grant select on chat.notes to authenticated;
        create function chat.note_visible(n chat.notes) returns boolean
        language sql stable as $$ select n.owner = auth.uid() $$;
        """,
    ),
}


def timed(conn: psycopg.Connection, query: str, params: tuple, rounds: int) -> float:
    """Median seconds of `rounds` runs."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        conn.execute(query, params).fetchall()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def read_costs(url: str, identities: int, rounds: int) -> dict:
    data = seed(url, tickets=1, agents=identities)
    ticket = data["tickets"][0]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into ticket_notes (thread_id, ticket_id, author_id, body)"
            " select %s, %s, %s, 'n' || g from generate_series(1, 5) g",
            (ticket["thread"], ticket["id"], ticket["customer"]),
        )
        ids = [r[0] for r in conn.execute("select id from realtime.messages order by id")]
        out = {}
        # The shipped function forces generic plans (migration 0006); "custom
        # plans" is PostgreSQL's default, the baseline: it re-plans the read per identity.
        for plans, setting in (("generic plans", "force_generic_plan"), ("custom plans", "auto")):
            conn.execute(
                f"alter function realtime.read_batch(jsonb) set plan_cache_mode = {setting}"
            )
            conn.execute("set role threadcast")
            for events in (1, 5):
                for label, subs in (
                    ("distinct users", data["agents"]),
                    ("one user repeated", [data["agents"][0]] * identities),
                ):
                    requests = [
                        {"role": "authenticated", "sub": sub, "ids": ids[-events:]} for sub in subs
                    ]
                    seconds = timed(
                        conn,
                        "select * from realtime.read_batch(%s)",
                        (json.dumps(requests),),
                        rounds,
                    )
                    key = f"{plans}, {events} event(s), {label}"
                    out[key] = round(seconds * 1000 / identities, 3)
                    log(f"read_batch, {key}: {out[key]} ms per identity")
            conn.execute("reset role")
        conn.execute(
            "alter function realtime.read_batch(jsonb) set plan_cache_mode = force_generic_plan"
        )
    return out


def derived_rule_costs(server_url: str, identities: int, rounds: int) -> dict:
    """read_batch() per identity with each shape's derived rule and its hand-written one."""
    url = create_database(server_url)
    out: dict = {}
    try:
        migrations.upgrade(url, migrations.ENGINE_ONLY)
        users = [str(uuid.UUID(int=0xBE0000 + n)) for n in range(identities)]
        with psycopg.connect(url, autocommit=True) as owner, psycopg.connect(url) as reader:
            owner.execute(CHAT_SQL.read_text())
            for _, _, _, ddl in SHAPES.values():
                owner.execute(ddl)
            owner.execute("insert into chat.workspaces values (1, 'w')")
            owner.execute(
                "insert into chat.members select 1, u::uuid from unnest(%s::text[]) u", (users,)
            )
            owner.execute("insert into chat.channels values (1, 1, 'general', false)")
            for table, topic, _, _ in SHAPES.values():
                owner.execute("select realtime.enable(%s, %s)", (table, topic))
            # Five events per table, by five of the users; every member sees every message,
            # each user only their own note.
            owner.execute(
                "insert into chat.messages (channel_id, user_id, body)"
                " select 1, u::uuid, 'm' from unnest(%s::text[]) u",
                (users[:5],),
            )
            owner.execute(
                "insert into chat.notes select n, u::uuid, 'n'"
                " from unnest(%s::text[]) with ordinality as x(u, n)",
                (users[:5],),
            )
            reader.autocommit = True
            reader.execute("set role threadcast")
            for shape, (table, topic, function, _) in SHAPES.items():
                ids = [
                    r[0]
                    for r in owner.execute(
                        "select id from realtime.messages where schema_name || '.' || table_name"
                        " = %s order by id",
                        (table,),
                    )
                ]
                for events in (1, 5):
                    requests = json.dumps(
                        [{"role": "authenticated", "sub": u, "ids": ids[-events:]} for u in users]
                    )
                    times: dict[str, list[float]] = {"derived": [], "hand-written": []}
                    seen: dict[str, list] = {}
                    # In turns, so that drift in the machine's load hits both alike.
                    for rule in ("derived", "hand-written") * 2:
                        args = (table, topic) if rule == "derived" else (table, topic, function)
                        owner.execute(
                            f"select realtime.enable({', '.join(['%s'] * len(args))})", args
                        )
                        query = "select request, id from realtime.read_batch(%s) order by 1, 2"
                        seen[rule] = reader.execute(query, (requests,)).fetchall()  # warm
                        times[rule].append(timed(reader, query, (requests,), rounds))
                    derived, hand = (
                        statistics.median(times[r]) * 1000 / identities
                        for r in ("derived", "hand-written")
                    )
                    key = f"{shape}, {events} event(s)"
                    out[key] = {
                        "derived_ms_per_identity": round(derived, 4),
                        "hand_written_ms_per_identity": round(hand, 4),
                        "ratio_derived_to_hand_written": round(derived / hand, 3),
                        # The two rules let the same users read the same events.
                        "same_result": seen["derived"] == seen["hand-written"],
                        "visible_rows": len(seen["derived"]),
                    }
                    log(f"derived vs hand-written rule, {key}: {out[key]}")
    finally:
        drop_database(server_url, url)
    return out


def tick_costs(server_url: str, rows: int, rounds: int) -> dict:
    """tick() after `rows` log rows, with the BRIN index as shipped (8 pages per range) and
    with PostgreSQL's default 128, each unsummarized and summarized, each in a fresh database."""
    out: dict = {"rows": rows}
    for pages in (8, 128):
        url = create_database(server_url)
        migrations.upgrade(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("drop index realtime.messages_txid_brin")
            # As migration 0006 makes it, or as 001 did.
            autosummarize = "off" if pages == 8 else "on"
            conn.execute(
                "create index messages_txid_brin on realtime.messages using brin (txid)"
                f" with (autosummarize = {autosummarize}, pages_per_range = {pages})"
            )

            def insert(n: int) -> None:
                # 10 rows per transaction, as many writers would: the rows' txids spread out.
                for _ in range(0, n, 10):
                    conn.execute(
                        "insert into realtime.messages (topic, event, payload)"
                        " select 't', 'e',"
                        " jsonb_build_object('pad', md5(g::text) || repeat('y', 300))"
                        " from generate_series(1, %s) g",
                        (min(10, n),),
                    )

            def tick_ms() -> float:
                times = []
                for _ in range(rounds):
                    insert(1)
                    started = time.perf_counter()
                    conn.execute("select realtime.tick()")
                    times.append(time.perf_counter() - started)
                return round(statistics.median(times) * 1000, 2)

            conn.execute("select realtime.tick()")
            insert(rows)
            conn.execute("select realtime.tick()")  # picks up the bulk rows once
            conn.execute("analyze realtime.messages")
            result = {"tick_ms_unsummarized": tick_ms()}
            started = time.perf_counter()
            conn.execute("select realtime.summarize()")
            result["summarize_ms"] = round((time.perf_counter() - started) * 1000, 2)
            result["tick_ms_summarized"] = tick_ms()
            out[f"{pages} pages per range"] = result
            log(f"tick(), {pages} pages per range: {result}")
        drop_database(server_url, url)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--identities", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--rule-identities",
        type=int,
        default=None,
        help="readers for the derived vs hand-written rule (default: --identities)",
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=str(RESULTS / "sql_costs.json"))
    args = parser.parse_args()
    if args.quick:
        args.identities, args.rows, args.rounds = 50, 2000, 3
    args.rule_identities = args.rule_identities or args.identities
    url = create_database(args.database_url)
    try:
        migrations.upgrade(url)
        result = {
            "benchmark": "sql_costs",
            "machine": machine(args.database_url),
            "parameters": recorded_parameters(args),
            "read_batch_ms_per_identity": read_costs(url, args.identities, args.rounds),
            "tick": tick_costs(args.database_url, args.rows, args.rounds),
            "derived_vs_hand_written_rule": derived_rule_costs(
                args.database_url, args.rule_identities, args.rounds
            ),
            "run": str(uuid.uuid4()),
        }
    finally:
        drop_database(args.database_url, url)
    with open(args.output, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result["read_batch_ms_per_identity"], indent=1))
    print(json.dumps(result["tick"], indent=1))
    print(json.dumps(result["derived_vs_hand_written_rule"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
