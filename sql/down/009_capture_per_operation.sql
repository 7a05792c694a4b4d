-- Reverts 009_capture_per_operation.sql: one capture function per table for inserts and
-- deletes, as part 8 made it, and the generic capture_update() for updates.

-- create_capture_function() as 008_capture_without_set.sql made it.
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

-- capture_update() as 007_lean_capture.sql made it.
create function realtime.capture_update() returns trigger
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

-- enable() and disable() as 007_lean_capture.sql made them.
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

-- Regenerate every realtime table's capture the part 8 way. Part 7's disable(), which
-- enabling again calls, drops only the insert function; the delete and update ones go here.
do $$
declare
    t record;
begin
    for t in select schema_name, table_name, topic_template, visible_function,
                    capture_delete_function, capture_update_function
               from realtime.tables order by schema_name, table_name
    loop
        perform realtime.enable(pg_catalog.format('%I.%I', t.schema_name, t.table_name)::regclass,
                                t.topic_template, t.visible_function::regprocedure);
        if t.capture_delete_function is not null then
            execute pg_catalog.format('drop function if exists %s', t.capture_delete_function);
        end if;
        if t.capture_update_function is not null then
            execute pg_catalog.format('drop function if exists %s', t.capture_update_function);
        end if;
    end loop;
end
$$;

alter table realtime.tables drop column capture_delete_function,
                           drop column capture_update_function;
drop function realtime.create_capture_function(regclass, text[], text);
drop function realtime.topic_sql(regclass, text[], text);
