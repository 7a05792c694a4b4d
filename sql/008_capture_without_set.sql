-- threadcast realtime engine, part 8: the generated capture functions run without
-- `SET search_path`, and the per-session wake-up check is cheaper.
--
-- Measured by benchmarks/write_overhead.py (PostgreSQL 15, 5 rounds x 5 s, single-row inserts
-- at 1 and 8 writers, rows/s against the table without triggers): the log insert as a
-- SECURITY DEFINER function with `SET search_path = ''` ran at 0.66x / 0.72x; the same
-- function without the SET at 0.75x / 0.77x, as fast as without SECURITY DEFINER at all
-- (0.76x / 0.78x). A function's SET clause changes the search path on entry and restores it
-- on exit, for every statement, and PostgreSQL before 17 recomputes the path after each
-- change. The SET stays everywhere else: nothing else runs once per written statement.
--
-- Without the SET, a SECURITY DEFINER function's SQL is parsed with the caller's search_path,
-- so it must not depend on it. The generated function names everything it uses by schema:
-- functions, types (pg_temp is searched first for types), operators (`operator(pg_catalog.||)`,
-- which PostgreSQL's own advice for extension scripts recommends), and the inlined
-- wake_due() and wake_bucket() bodies likewise. The transition table is not looked up in any
-- schema: an unqualified name matching a transition table is always that table.
-- tests/test_capture_functions.py writes through a search path whose first schema shadows
-- each of those operators and functions with one that raises.

-- Wake-ups -------------------------------------------------------------------------------------

-- The current 50 ms interval of the clock, as text (epoch seconds x 20).
create function realtime.wake_bucket() returns text
language sql volatile
as $$
    select ((pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
             operator(pg_catalog.*) 20::pg_catalog.float8)::pg_catalog.int8)::pg_catalog.text
$$;

-- Whether a writer should call wake(): not if this session called it in the current 50 ms
-- interval (wake() reads the shared row and notifies if nobody has for 50 ms). Replaces part
-- 7's check, which compared the time of the last wake-up with a window around now: one
-- reading of the clock instead of two, and an equality test. Any other value a session sets
-- counts as "not this interval", so none can stop its wake-ups for longer than 50 ms.
-- Inlined into the capture functions, which run as their owner: every name is qualified.
create or replace function realtime.wake_due() returns boolean
language sql volatile
as $$
    select coalesce(pg_catalog.current_setting('realtime.wake_bucket', true)
                    operator(pg_catalog.<>) realtime.wake_bucket(), true)
$$;

-- As in part 1 (at most one NOTIFY per 50 ms across the database), and it records for the
-- session that it looked in this interval, for wake_due(). A session setting, not SET LOCAL:
-- it outlives the transaction (a rollback undoes it).
create or replace function realtime.wake() returns void
language plpgsql security definer
set search_path = ''
as $$
begin
    if (select notified_at from realtime.wakeup where id = 1)
            < pg_catalog.clock_timestamp() - interval '50 ms' then
        -- Skip if another writer is notifying right now: its wake-up serves us too.
        perform from realtime.wakeup where id = 1 for update skip locked;
        if found then
            update realtime.wakeup set notified_at = pg_catalog.clock_timestamp() where id = 1;
            perform pg_catalog.pg_notify('threadcast_v1', '');
        end if;
    end if;
    perform pg_catalog.set_config('realtime.wake_bucket', realtime.wake_bucket(), false);
end
$$;

revoke execute on function realtime.wake() from public;

-- Capture of INSERT and DELETE ------------------------------------------------------------------

-- As in part 7, but the generated function has no SET clause and qualifies every name.
create or replace function realtime.create_capture_function(tbl regclass, parts text[]) returns text
language plpgsql
set search_path = ''
as $$
declare
    rel_schema text;
    rel_name text;
    function_name text;
    topic_sql text;
begin
    select n.nspname, c.relname into rel_schema, rel_name
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.oid = tbl;
    -- Readable, within 63 bytes, and different for every schema-qualified table name.
    function_name := pg_catalog.format('capture_%s_%s', pg_catalog.left(rel_name, 30),
        pg_catalog.left(pg_catalog.md5(rel_schema || '.' || rel_name), 12));

    -- The topic: literals and columns, each column as the text of its JSON value, exactly
    -- what rendering from to_jsonb(row) gives (a NULL column renders as '').
    topic_sql := pg_catalog.quote_literal(coalesce(parts[1], ''));
    for i in 2..coalesce(pg_catalog.array_length(parts, 1), 0) by 2 loop
        topic_sql := topic_sql
            || pg_catalog.format(' operator(pg_catalog.||) coalesce(pg_catalog.to_jsonb(r.%I)'
                                 ' operator(pg_catalog.#>>) ''{}'', '''')', parts[i])
            || case when coalesce(parts[i + 1], '') = '' then ''
                    else pg_catalog.format(' operator(pg_catalog.||) %L', parts[i + 1]) end;
    end loop;

    -- `r.*`, not `r`: a column named r would shadow a bare r.
    execute pg_catalog.format($fn$
create or replace function realtime.%1$I() returns trigger
language plpgsql security definer
as $body$
-- No SET search_path (see sql/008_capture_without_set.sql): every name is qualified.
begin
    if tg_op operator(pg_catalog.=) 'INSERT' then
        insert into realtime.messages (topic, event, schema_name, table_name, payload)
        select %2$s, 'postgres_changes', %3$L, %4$L,
               pg_catalog.jsonb_build_object(
                   'schema', %3$L, 'table', %4$L,
                   'commit_timestamp', pg_catalog.statement_timestamp(),
                   'eventType', 'INSERT', 'new', r.*, 'old', null, 'errors', null)
          from new_rows as r;
    else
        insert into realtime.messages (topic, event, schema_name, table_name, payload)
        select %2$s, 'postgres_changes', %3$L, %4$L,
               pg_catalog.jsonb_build_object(
                   'schema', %3$L, 'table', %4$L,
                   'commit_timestamp', pg_catalog.statement_timestamp(),
                   'eventType', 'DELETE', 'new', '{}'::pg_catalog.jsonb, 'old', r.*,
                   'errors', null)
          from old_rows as r;
    end if;
    if found and realtime.wake_due() then
        perform realtime.wake();
    end if;
    return null;
end
$body$
$fn$, function_name, topic_sql, rel_schema, rel_name);
    execute pg_catalog.format('comment on function realtime.%I() is %L', function_name,
        'threadcast: captures inserts and deletes of ' || tbl::text || ' (made by realtime.enable)');
    return pg_catalog.format('realtime.%I()', function_name);
end
$$;

-- Regenerate every realtime table's capture function.
do $$
declare
    t record;
begin
    for t in select schema_name, table_name, topic_template, visible_function
               from realtime.tables order by schema_name, table_name
    loop
        perform realtime.enable(pg_catalog.format('%I.%I', t.schema_name, t.table_name)::regclass,
                                t.topic_template, t.visible_function::regprocedure);
    end loop;
end
$$;
