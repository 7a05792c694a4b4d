-- threadcast realtime engine, part 7: cheaper writes. Each realtime table gets its own capture
-- function, and writers stop reading the shared wake-up row on every statement.
--
-- Measured by benchmarks/capture_cost.py (callgrind: instructions a captured single-row insert
-- into ticket_notes adds; the insert alone is 157,000 on PostgreSQL 15): 251,000 with the
-- generic capture_statement(), 171,000 with this part's (212,000 and 136,000 on 18).
-- The generic function paid for what it could not know in advance:
--   * the row was converted to jsonb twice: to_jsonb(row) ran once for the topic and once
--     more for the payload, which then copied that jsonb, sorting its keys again;
--   * the topic template was parsed from TG_ARGV on every call;
--   * every statement read the one realtime.wakeup row, whose chain of dead versions grows
--     with every wake-up until the page is pruned.
-- A generated function names the topic's columns (r.ticket_id) and hands the row straight to
-- jsonb_build_object, which converts it once.

-- Which function captures a table's inserts and deletes (made by enable()).
alter table realtime.tables add column capture_function text;

-- Wake-ups -----------------------------------------------------------------------------------

-- Whether a writer should call wake(): not if this session saw a wake-up (its own or another
-- writer's) in the last 50 ms. A plain SQL expression that PL/pgSQL inlines, so the common
-- case costs no query: wake() itself reads the shared row at most about once per 50 ms per
-- session. The remembered time is epoch milliseconds as 13 digits, compared as text in the C
-- collation: no parsing, so no value a session sets can raise an error here, and none can
-- stop wake-ups for longer than 50 ms (a regular expression to validate it cost more than
-- the rest of the check).
create function realtime.wake_due() returns boolean
language sql volatile
as $$
    select coalesce(
        pg_catalog.current_setting('realtime.notified_at', true) collate "C" not between
            ((pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()) * 1000)::bigint - 50)::text
            and ((pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()) * 1000)::bigint)::text,
        true)
$$;

-- As in part 1 (at most one NOTIFY per 50 ms across the database), and it remembers for the
-- session when the last wake-up was, for wake_due().
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

-- UPDATE capture as in part 4, with the cheaper wake-up check.
create or replace function realtime.capture_update() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
    parts text[] := tg_argv[0]::text[];
    new_row jsonb := pg_catalog.to_jsonb(new);
    old_row jsonb := pg_catalog.to_jsonb(old);
    new_topic text := realtime.render_topic(parts, new_row);
    old_topic text := realtime.render_topic(parts, old_row);
begin
    insert into realtime.messages (topic, event, schema_name, table_name, payload, counterpart)
    values (new_topic, 'postgres_changes', tg_table_schema, tg_table_name,
            realtime.change_payload(tg_table_schema, tg_table_name, 'UPDATE', new_row, old_row),
            null),
           (new_topic, 'postgres_changes', tg_table_schema, tg_table_name,
            realtime.change_payload(tg_table_schema, tg_table_name, 'UPDATE', new_row, null),
            old_row),
           (old_topic, 'postgres_changes', tg_table_schema, tg_table_name,
            realtime.change_payload(tg_table_schema, tg_table_name, 'DELETE', null, old_row),
            case when old_topic = new_topic then new_row end);
    if realtime.wake_due() then
        perform realtime.wake();
    end if;
    return null;
end
$$;

-- Capture of INSERT and DELETE ------------------------------------------------------------------

-- Creates (or replaces) the statement-level capture function of one table and returns its
-- name. It reads the transition table once per statement, like the generic function did, so
-- a 100-row statement is one insert into the log. The payload is change_payload()'s document
-- (keep the two alike), built from the row in one step.
create function realtime.create_capture_function(tbl regclass, parts text[]) returns text
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

-- enable() as in part 4, with the table's own capture function.
create or replace function realtime.enable(tbl regclass, topic_template text, visible regprocedure)
returns void
language plpgsql
set search_path = ''
as $$
declare
    rel_schema text;
    rel_name text;
    rel_kind "char";
    row_type oid;
    parts text[];
    column_name text;
    fn_args oidvector;
    fn_returns oid;
    capture text;
begin
    select n.nspname, c.relname, c.relkind, c.reltype
      into rel_schema, rel_name, rel_kind, row_type
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.oid = tbl;
    if rel_kind not in ('r', 'p') then
        raise exception 'realtime.enable: % is not a table', tbl using errcode = '42809';
    end if;
    if rel_schema = 'realtime' then
        raise exception 'realtime.enable: tables of the realtime schema cannot be enabled'
            using errcode = '42809';
    end if;
    if not exists (select from pg_catalog.pg_constraint where conrelid = tbl and contype = 'p') then
        raise exception 'realtime.enable: table % has no primary key', tbl
            using errcode = '42P16', hint = 'events identify rows by primary key; add one first';
    end if;

    parts := realtime.parse_topic_template(topic_template);
    for i in 2..coalesce(array_length(parts, 1), 0) by 2 loop
        column_name := parts[i];
        if not exists (
            select from pg_catalog.pg_attribute
             where attrelid = tbl and attname = column_name and attnum > 0 and not attisdropped
        ) then
            raise exception 'realtime.enable: topic template % names column %, which table % does not have',
                topic_template, column_name, tbl
                using errcode = '42703';
        end if;
    end loop;

    select p.proargtypes, p.prorettype into fn_args, fn_returns
      from pg_catalog.pg_proc p where p.oid = visible;
    if pg_catalog.array_length(fn_args::oid[], 1) is distinct from 1
            or fn_args[0] <> row_type or fn_returns <> 'boolean'::regtype then
        raise exception 'realtime.enable: visibility function % must take one % row and return boolean',
            visible, tbl
            using errcode = '42883';
    end if;

    -- Enabling again replaces the previous configuration.
    if exists (select from realtime.tables t where t.schema_name = rel_schema and t.table_name = rel_name) then
        perform realtime.disable(tbl);
    end if;

    capture := realtime.create_capture_function(tbl, parts);
    insert into realtime.tables
        (schema_name, table_name, topic_template, topic_parts, visible_function, capture_function)
    values (rel_schema, rel_name, topic_template, parts, visible::text, capture);

    execute format(
        'create trigger realtime_capture_insert after insert on %s referencing new table as new_rows'
        ' for each statement execute function %s', tbl, capture);
    execute format(
        'create trigger realtime_capture_delete after delete on %s referencing old table as old_rows'
        ' for each statement execute function %s', tbl, capture);
    execute format(
        'create trigger realtime_capture_update after update on %s'
        ' for each row execute function realtime.capture_update(%L)', tbl, parts);

    -- An event is judged on every row it reveals, and an UPDATE's variants (see
    -- capture_update) on what the reader may see before and after. The policy calls the very
    -- function the table's RLS uses; null (unknown) counts as not visible.
    execute format(
        'create policy %1$I on realtime.messages for select to authenticated using ('
        ' event = %2$L and schema_name = %3$L and table_name = %4$L and case payload ->> %5$L'
        '  when %6$L then coalesce(%7$s(jsonb_populate_record(null::%8$s, payload -> %9$L)), false)'
        '  when %10$L then coalesce(%7$s(jsonb_populate_record(null::%8$s, payload -> %11$L)), false)'
        '   and (counterpart is null'
        '        or not coalesce(%7$s(jsonb_populate_record(null::%8$s, counterpart)), false))'
        '  else coalesce(%7$s(jsonb_populate_record(null::%8$s, payload -> %9$L)), false)'
        '   and case when counterpart is null'
        '        then coalesce(%7$s(jsonb_populate_record(null::%8$s, payload -> %11$L)), false)'
        '        else not coalesce(%7$s(jsonb_populate_record(null::%8$s, counterpart)), false)'
        '       end'
        ' end)',
        'postgres_changes on ' || rel_schema || '.' || rel_name,
        'postgres_changes', rel_schema, rel_name, 'eventType',
        'INSERT', visible::regproc, tbl, 'new',
        'DELETE', 'old');
end
$$;

-- disable() as in part 1, and it drops the table's capture function.
create or replace function realtime.disable(tbl regclass) returns void
language plpgsql
set search_path = ''
as $$
declare
    rel_schema text;
    rel_name text;
    capture text;
begin
    select n.nspname, c.relname into rel_schema, rel_name
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.oid = tbl;
    execute format('drop trigger if exists realtime_capture_insert on %s', tbl);
    execute format('drop trigger if exists realtime_capture_delete on %s', tbl);
    execute format('drop trigger if exists realtime_capture_update on %s', tbl);
    execute format('drop policy if exists %I on realtime.messages',
                   'postgres_changes on ' || rel_schema || '.' || rel_name);
    delete from realtime.tables t
     where t.schema_name = rel_schema and t.table_name = rel_name
    returning t.capture_function into capture;
    if capture is not null then
        execute format('drop function if exists %s', capture);
    end if;
end
$$;

-- Move every realtime table to its own capture function; nothing uses the generic one now.
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

drop function realtime.capture_statement();
