-- threadcast realtime engine, part 9: cheaper single-row writes. Each realtime table gets two
-- capture functions, one for inserts and one for deletes, and each does less per statement.
--
-- Measured by benchmarks/capture_cost.py (callgrind, one transaction per single-row insert
-- into ticket_notes): part 8's capture added 161,584 instructions to an insert on PostgreSQL
-- 15 and 141,347 on 18; this part's adds 151,189 and 132,350. Where they went (on 18):
--   * `if tg_op = 'INSERT'`: PL/pgSQL sets every IF's expression up again in each
--     transaction; a function per operation needs none (about 2,300);
--   * topic columns of types whose text is their JSON text (uuid, text, varchar, integers,
--     boolean) are cast to text instead of going through to_jsonb(...) #>> '{}' (3,100 for
--     ticket_notes' uuid); other types keep the JSON rendering;
--   * the payload's constant keys (schema, table, eventType, errors, and old or new) are one
--     jsonb constant, parsed when the statement is planned; only commit_timestamp and the row
--     are built per row (4,700).
-- The payload is the same jsonb document as before (jsonb keeps no key order).

-- The delete capture function; capture_function is the insert one.
alter table realtime.tables add column capture_delete_function text;

-- How a topic column is rendered, as SQL over the row alias r: the text of its JSON value, as
-- render_topic() gives it from to_jsonb(row). For these types that is the column cast to text
-- (not bpchar, whose cast drops trailing blanks, nor domains, which keep the general path).
create function realtime.topic_column_sql(tbl regclass, column_name text) returns text
language sql stable
set search_path = ''
as $$
    select case when a.atttypid in ('pg_catalog.text'::pg_catalog.regtype,
                                    'pg_catalog.varchar'::pg_catalog.regtype,
                                    'pg_catalog.uuid'::pg_catalog.regtype,
                                    'pg_catalog.int2'::pg_catalog.regtype,
                                    'pg_catalog.int4'::pg_catalog.regtype,
                                    'pg_catalog.int8'::pg_catalog.regtype,
                                    'pg_catalog.bool'::pg_catalog.regtype)
                then pg_catalog.format('r.%I::pg_catalog.text', column_name)
                else pg_catalog.format('pg_catalog.to_jsonb(r.%I) operator(pg_catalog.#>>) ''{}''',
                                       column_name)
           end
      from pg_catalog.pg_attribute a
     where a.attrelid = tbl and a.attname = column_name and a.attnum > 0 and not a.attisdropped
$$;

-- Creates (or replaces) the statement-level capture function of one table for one operation
-- ('INSERT' or 'DELETE') and returns its name. As part 8's, it runs as its owner without
-- SET search_path, so every name in it is qualified (sql/008_capture_without_set.sql).
create function realtime.create_capture_function(tbl regclass, parts text[], operation text)
returns text
language plpgsql
set search_path = ''
as $$
declare
    rel_schema text;
    rel_name text;
    function_name text;
    topic_sql text;
    constant_keys jsonb;
begin
    if operation is null or operation not in ('INSERT', 'DELETE') then
        raise exception 'realtime.create_capture_function: operation must be INSERT or DELETE, not %',
            coalesce(operation, 'NULL') using errcode = '22023';
    end if;
    select n.nspname, c.relname into rel_schema, rel_name
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.oid = tbl;
    -- Readable, within 63 bytes, and different for every schema-qualified table name.
    function_name := pg_catalog.format('capture_%s_%s_%s', pg_catalog.lower(operation),
        pg_catalog.left(rel_name, 30),
        pg_catalog.left(pg_catalog.md5(rel_schema || '.' || rel_name), 12));

    -- The topic: literals and columns, each column rendered as topic_column_sql() says (a
    -- NULL column renders as '').
    topic_sql := pg_catalog.quote_literal(coalesce(parts[1], ''));
    for i in 2..coalesce(pg_catalog.array_length(parts, 1), 0) by 2 loop
        topic_sql := topic_sql
            || pg_catalog.format(' operator(pg_catalog.||) coalesce(%s, '''')',
                                 realtime.topic_column_sql(tbl, parts[i]))
            || case when coalesce(parts[i + 1], '') = '' then ''
                    else pg_catalog.format(' operator(pg_catalog.||) %L', parts[i + 1]) end;
    end loop;

    -- change_payload()'s document without commit_timestamp and the row.
    constant_keys := pg_catalog.jsonb_build_object('schema', rel_schema, 'table', rel_name,
        'eventType', operation, 'errors', null)
        || case operation when 'INSERT' then '{"old": null}'::jsonb else '{"new": {}}'::jsonb end;

    -- `r.*`, not `r`: a column named r would shadow a bare r.
    execute pg_catalog.format($fn$
create or replace function realtime.%1$I() returns trigger
language plpgsql security definer
as $body$
-- No SET search_path (see sql/008_capture_without_set.sql): every name is qualified.
begin
    insert into realtime.messages (topic, event, schema_name, table_name, payload)
    select %2$s, 'postgres_changes', %3$L, %4$L,
           %5$L::pg_catalog.jsonb operator(pg_catalog.||) pg_catalog.jsonb_build_object(
               'commit_timestamp', pg_catalog.statement_timestamp(), %6$L, r.*)
      from %7$I as r;
    if found and realtime.wake_due() then
        perform realtime.wake();
    end if;
    return null;
end
$body$
$fn$, function_name, topic_sql, rel_schema, rel_name, constant_keys::text,
      case operation when 'INSERT' then 'new' else 'old' end,
      case operation when 'INSERT' then 'new_rows' else 'old_rows' end);
    execute pg_catalog.format('comment on function realtime.%I() is %L', function_name,
        pg_catalog.format('threadcast: captures %s of %s (made by realtime.enable)',
            case operation when 'INSERT' then 'inserts' else 'deletes' end, tbl));
    return pg_catalog.format('realtime.%I()', function_name);
end
$$;

drop function realtime.create_capture_function(regclass, text[]);

-- enable() as in part 7, with a capture function per operation.
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
    capture_insert text;
    capture_delete text;
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
    insert into realtime.tables
        (schema_name, table_name, topic_template, topic_parts, visible_function,
         capture_function, capture_delete_function)
    values (rel_schema, rel_name, topic_template, parts, visible::text,
            capture_insert, capture_delete);

    execute format(
        'create trigger realtime_capture_insert after insert on %s referencing new table as new_rows'
        ' for each statement execute function %s', tbl, capture_insert);
    execute format(
        'create trigger realtime_capture_delete after delete on %s referencing old table as old_rows'
        ' for each statement execute function %s', tbl, capture_delete);
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

-- disable() as in part 7, and it drops both capture functions.
create or replace function realtime.disable(tbl regclass) returns void
language plpgsql
set search_path = ''
as $$
declare
    rel_schema text;
    rel_name text;
    capture_insert text;
    capture_delete text;
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
    returning t.capture_function, t.capture_delete_function into capture_insert, capture_delete;
    if capture_insert is not null then
        execute format('drop function if exists %s', capture_insert);
    end if;
    if capture_delete is not null then
        execute format('drop function if exists %s', capture_delete);
    end if;
end
$$;

-- Regenerate every realtime table's capture (enabling again drops part 8's function first).
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
