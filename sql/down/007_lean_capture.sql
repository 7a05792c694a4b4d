-- Reverts 007_lean_capture.sql: back to the generic capture_statement() for every table.

-- The tables' own capture functions, dropped once no trigger uses them.
create temporary table capture_functions_to_drop on commit drop as
    select capture_function from realtime.tables where capture_function is not null;

-- wake() as 001_realtime_engine.sql made it.
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
end
$$;

revoke execute on function realtime.wake() from public;

-- capture_statement() as 001_realtime_engine.sql made it.
create function realtime.capture_statement() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
    parts text[] := tg_argv[0]::text[];
    one_column boolean := cardinality(parts) = 3;  -- 'prefix:{column}': no function call per row
begin
    if tg_op = 'INSERT' then
        insert into realtime.messages (topic, event, schema_name, table_name, payload)
        select case when one_column then parts[1] || coalesce(r.row_data ->> parts[2], '') || parts[3]
                    else realtime.render_topic(parts, r.row_data) end,
               'postgres_changes', tg_table_schema, tg_table_name,
               realtime.change_payload(tg_table_schema, tg_table_name, 'INSERT', r.row_data, null)
        from (select pg_catalog.to_jsonb(n) as row_data from new_rows n) as r;
    else
        insert into realtime.messages (topic, event, schema_name, table_name, payload)
        select case when one_column then parts[1] || coalesce(r.row_data ->> parts[2], '') || parts[3]
                    else realtime.render_topic(parts, r.row_data) end,
               'postgres_changes', tg_table_schema, tg_table_name,
               realtime.change_payload(tg_table_schema, tg_table_name, 'DELETE', null, r.row_data)
        from (select pg_catalog.to_jsonb(o) as row_data from old_rows o) as r;
    end if;
    -- The throttle's check, inline: most statements stop here without calling wake().
    if found and (select notified_at from realtime.wakeup where id = 1)
            < pg_catalog.clock_timestamp() - interval '50 ms' then
        perform realtime.wake();
    end if;
    return null;
end
$$;

-- capture_update() as 004_update_visibility.sql made it.
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
    if (select notified_at from realtime.wakeup where id = 1)
            < pg_catalog.clock_timestamp() - interval '50 ms' then
        perform realtime.wake();
    end if;
    return null;
end
$$;

-- enable() as 004_update_visibility.sql made it.
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

    insert into realtime.tables (schema_name, table_name, topic_template, topic_parts, visible_function)
    values (rel_schema, rel_name, topic_template, parts, visible::text);

    execute format(
        'create trigger realtime_capture_insert after insert on %s referencing new table as new_rows'
        ' for each statement execute function realtime.capture_statement(%L)', tbl, parts);
    execute format(
        'create trigger realtime_capture_delete after delete on %s referencing old table as old_rows'
        ' for each statement execute function realtime.capture_statement(%L)', tbl, parts);
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

-- disable() as 001_realtime_engine.sql made it.
create or replace function realtime.disable(tbl regclass) returns void
language plpgsql
set search_path = ''
as $$
declare
    rel_schema text;
    rel_name text;
begin
    select n.nspname, c.relname into rel_schema, rel_name
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.oid = tbl;
    execute format('drop trigger if exists realtime_capture_insert on %s', tbl);
    execute format('drop trigger if exists realtime_capture_delete on %s', tbl);
    execute format('drop trigger if exists realtime_capture_update on %s', tbl);
    execute format('drop policy if exists %I on realtime.messages',
                   'postgres_changes on ' || rel_schema || '.' || rel_name);
    delete from realtime.tables t where t.schema_name = rel_schema and t.table_name = rel_name;
end
$$;

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
    for t in select capture_function from capture_functions_to_drop loop
        execute pg_catalog.format('drop function if exists %s', t.capture_function);
    end loop;
end
$$;

drop function realtime.create_capture_function(regclass, text[]);
drop function realtime.wake_due();
alter table realtime.tables drop column capture_function;
