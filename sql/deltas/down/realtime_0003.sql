-- Reverses realtime_0003: enable() takes a visibility function again (three arguments) and
-- derives nothing; no check(); realtime.tables without rule and derived_rule; the auth schema
-- gone if the engine created it and nothing uses it. Tables enabled with a derived rule keep
-- working: their generated function stays, now as if it had been given explicitly.

drop function if exists realtime.check();
drop function if exists realtime.enable(regclass, text, regprocedure, boolean);
drop function if exists realtime.create_visibility_function(regclass, text, smallint[], text);
drop function if exists realtime.policy_rule(regclass);
drop function if exists realtime.log_policy_name(text, text);

-- Makes a table realtime: its INSERT, UPDATE and DELETE become events on the topic rendered
-- from topic_template, readable by whoever `visible` (a function of the table's row type,
-- returning boolean) admits. Use the same function in the table's own SELECT policy, so the
-- table and its events cannot disagree about who sees a row. Enabling again replaces the
-- previous configuration and regenerates the capture functions.
create function realtime.enable(tbl regclass, topic_template text, visible regprocedure)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
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
    capture_insert text;
    capture_delete text;
    capture_update text;
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

    capture_insert := realtime.create_capture_function(tbl, parts, 'INSERT');
    capture_delete := realtime.create_capture_function(tbl, parts, 'DELETE');
    capture_update := realtime.create_capture_function(tbl, parts, 'UPDATE');
    insert into realtime.tables
        (schema_name, table_name, topic_template, topic_parts, visible_function,
         capture_function, capture_delete_function, capture_update_function)
    values (rel_schema, rel_name, topic_template, parts, visible::text,
            capture_insert, capture_delete, capture_update);

    execute format(
        'create trigger realtime_capture_insert after insert on %s referencing new table as new_rows'
        ' for each statement execute function %s', tbl, capture_insert);
    execute format(
        'create trigger realtime_capture_delete after delete on %s referencing old table as old_rows'
        ' for each statement execute function %s', tbl, capture_delete);
    execute format(
        'create trigger realtime_capture_update after update on %s'
        ' for each row execute function %s', tbl, capture_update);

    -- An event is judged on every row it reveals, and an UPDATE's variants (see
    -- sql/004_update_visibility.sql) on what the reader may see before and after. The policy calls the very
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

-- Stops capturing a table's changes and drops its capture functions. Its past events stay in
-- the log until pruned, but nobody can read them any more: their policy is gone.
create or replace function realtime.disable(tbl regclass) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    rel_schema text;
    rel_name text;
    capture_insert text;
    capture_delete text;
    capture_update text;
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
    returning t.capture_function, t.capture_delete_function, t.capture_update_function
         into capture_insert, capture_delete, capture_update;
    if capture_insert is not null then
        execute format('drop function if exists %s', capture_insert);
    end if;
    if capture_delete is not null then
        execute format('drop function if exists %s', capture_delete);
    end if;
    if capture_update is not null then
        execute format('drop function if exists %s', capture_update);
    end if;
end
$$;

revoke execute on function realtime.enable(regclass, text, regprocedure) from public;

alter table realtime.tables drop column if exists rule, drop column if exists derived_rule;

-- The auth schema only if the engine created it (its comment says so), and only while nothing
-- else uses it: policies that call auth.uid() keep it (and it keeps working without the engine).
do $$
begin
    if coalesce(pg_catalog.obj_description(pg_catalog.to_regnamespace('auth')::oid, 'pg_namespace'),
                '') not like 'threadcast:%' then
        return;
    end if;
    begin
        drop function if exists auth.uid(), auth.jwt(), auth.role();
        drop schema auth;
    exception when dependent_objects_still_exist then
        raise notice 'schema auth is still used (%); kept', sqlerrm;
    end;
end
$$;
