-- Reverts 008_capture_without_set.sql: part 7's capture functions (with SET search_path)
-- and its wake-up check.

-- wake_due() as 007_lean_capture.sql made it.
create or replace function realtime.wake_due() returns boolean
language sql volatile
as $$
    select coalesce(
        pg_catalog.current_setting('realtime.notified_at', true) collate "C" not between
            ((pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()) * 1000)::bigint - 50)::text
            and ((pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()) * 1000)::bigint)::text,
        true)
$$;

-- wake() as 007_lean_capture.sql made it.
create or replace function realtime.wake() returns void
language plpgsql security definer
set search_path = ''
as $$
declare
    last_notified timestamptz;
begin
    select notified_at into last_notified from realtime.wakeup where id = 1;
    if last_notified < pg_catalog.clock_timestamp() - interval '50 ms' then
        -- Skip if another writer is notifying right now: its wake-up serves us too.
        perform from realtime.wakeup where id = 1 for update skip locked;
        if not found then
            return;
        end if;
        last_notified := pg_catalog.clock_timestamp();
        update realtime.wakeup set notified_at = last_notified where id = 1;
        perform pg_catalog.pg_notify('threadcast_v1', '');
    end if;
    -- A session setting, not SET LOCAL: it outlives this transaction (a rollback undoes it).
    if pg_catalog.isfinite(last_notified) then
        perform pg_catalog.set_config('realtime.notified_at',
            ((pg_catalog.date_part('epoch', last_notified) * 1000)::bigint)::text, false);
    end if;
end
$$;

revoke execute on function realtime.wake() from public;

-- create_capture_function() as 007_lean_capture.sql made it.
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
            || pg_catalog.format(' || coalesce(pg_catalog.to_jsonb(r.%I) #>> ''{}'', '''')', parts[i])
            || pg_catalog.format(' || %L', coalesce(parts[i + 1], ''));
    end loop;

    -- `r.*`, not `r`: a column named r would shadow a bare r.
    execute pg_catalog.format($fn$
create or replace function realtime.%1$I() returns trigger
language plpgsql security definer
set search_path = ''
as $body$
begin
    if tg_op = 'INSERT' then
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
                   'eventType', 'DELETE', 'new', '{}'::jsonb, 'old', r.*, 'errors', null)
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

-- Regenerate every realtime table's capture function the part 7 way.
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

drop function realtime.wake_bucket();
