-- threadcast realtime engine, part 9: cheaper writes. Each realtime table gets its own
-- capture function per operation (insert, delete, update), and each does less per statement.
--
-- Measured by benchmarks/capture_cost.py (callgrind, one transaction per single-row write to
-- ticket_notes): part 8's capture added 161,339 instructions to an insert on PostgreSQL 15 and
-- 139,866 on 18; this part's adds 150,389 and 130,964. Where they went (on 18, from scratch
-- variants of the function measured the same way, not kept):
--   * `if tg_op = 'INSERT'`: PL/pgSQL sets every IF's expression up again in each
--     transaction; a function per operation needs none (about 2,300);
--   * topic columns of types whose text is their JSON text (uuid, text, varchar, integers,
--     boolean) are cast to text instead of going through to_jsonb(...) #>> '{}' (3,100 for
--     ticket_notes' uuid); other types keep the JSON rendering;
--   * the payload's constant keys (schema, table, eventType, errors, and old or new) are one
--     jsonb constant, parsed when the statement is planned; only commit_timestamp and the row
--     are built per row (4,700).
-- Updates had the generic row-level capture_update() of parts 1-7, with SET search_path, the
-- topic template parsed and rendered through to_jsonb for both rows on every update, and the
-- three variants built by separate expressions; a generated function does it in one
-- statement: an edit's capture fell from 433,124 instructions to 355,962 on 15 and from
-- 370,775 to 310,314 on 18.
-- Events are the same jsonb documents as before (jsonb keeps no key order).

-- The delete and update capture functions; capture_function is the insert one.
alter table realtime.tables add column capture_delete_function text,
                            add column capture_update_function text;

-- The topic of a row as SQL over the row `row_alias` (r in the statement functions, new or
-- old in the row-level UPDATE one): literals and columns, each column the text of its JSON
-- value, as render_topic() gives it from to_jsonb(row), a NULL column as ''. For these types
-- that is the column cast to text (not bpchar, whose cast drops trailing blanks, nor domains,
-- which keep the general path).
create function realtime.topic_sql(tbl regclass, parts text[], row_alias text) returns text
language plpgsql stable
set search_path = ''
as $$
declare
    topic_sql text := pg_catalog.quote_literal(coalesce(parts[1], ''));
    column_type regtype;
begin
    for i in 2..coalesce(pg_catalog.array_length(parts, 1), 0) by 2 loop
        select a.atttypid into column_type
          from pg_catalog.pg_attribute a
         where a.attrelid = tbl and a.attname = parts[i] and a.attnum > 0 and not a.attisdropped;
        topic_sql := topic_sql || pg_catalog.format(' operator(pg_catalog.||) coalesce(%s, '''')',
            case when column_type in ('pg_catalog.text', 'pg_catalog.varchar', 'pg_catalog.uuid',
                                      'pg_catalog.int2', 'pg_catalog.int4', 'pg_catalog.int8',
                                      'pg_catalog.bool')
                 then pg_catalog.format('%I.%I::pg_catalog.text', row_alias, parts[i])
                 else pg_catalog.format('pg_catalog.to_jsonb(%I.%I) operator(pg_catalog.#>>) ''{}''',
                                        row_alias, parts[i])
            end)
            || case when coalesce(parts[i + 1], '') = '' then ''
                    else pg_catalog.format(' operator(pg_catalog.||) %L', parts[i + 1]) end;
    end loop;
    return topic_sql;
end
$$;

-- Creates (or replaces) the capture function of one table for one operation and returns its
-- name: statement-level for 'INSERT' and 'DELETE', reading the transition table once; row-level
-- for 'UPDATE', which logs three variants of each row (sql/004_update_visibility.sql). As part
-- 8's, they run as their owner without SET search_path, so every name in them is qualified
-- (sql/008_capture_without_set.sql). Payloads are change_payload()'s document, its constant
-- keys one jsonb constant.
create function realtime.create_capture_function(tbl regclass, parts text[], operation text)
returns text
language plpgsql
set search_path = ''
as $$
declare
    rel_schema text;
    rel_name text;
    function_name text;
    document jsonb;
begin
    if operation is null or operation not in ('INSERT', 'DELETE', 'UPDATE') then
        raise exception 'realtime.create_capture_function: operation must be INSERT, DELETE or UPDATE, not %',
            coalesce(operation, 'NULL') using errcode = '22023';
    end if;
    select n.nspname, c.relname into rel_schema, rel_name
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.oid = tbl;
    -- Readable, within 63 bytes, and different for every schema-qualified table name.
    function_name := pg_catalog.format('capture_%s_%s_%s', pg_catalog.lower(operation),
        pg_catalog.left(rel_name, 30),
        pg_catalog.left(pg_catalog.md5(rel_schema || '.' || rel_name), 12));
    document := pg_catalog.jsonb_build_object('schema', rel_schema, 'table', rel_name,
                                              'errors', null);

    if operation = 'UPDATE' then
        -- One statement: each row is converted to JSON once (`offset 0` keeps the planner
        -- from copying the conversions into every variant), then the three variants.
        execute pg_catalog.format($fn$
create or replace function realtime.%1$I() returns trigger
language plpgsql security definer
as $body$
-- No SET search_path (see sql/008_capture_without_set.sql): every name is qualified.
begin
    insert into realtime.messages (topic, event, schema_name, table_name, payload, counterpart)
    select v.topic, 'postgres_changes', %3$L, %4$L,
           v.document operator(pg_catalog.||) v.rows, v.counterpart
      from (select pg_catalog.to_jsonb(new) as new_row, pg_catalog.to_jsonb(old) as old_row,
                   %2$s as new_topic, %5$s as old_topic,
                   pg_catalog.statement_timestamp() as stamp
            offset 0) as r,
           lateral (values
               (r.new_topic, %6$L::pg_catalog.jsonb,
                pg_catalog.jsonb_build_object('commit_timestamp', r.stamp,
                                              'new', r.new_row, 'old', r.old_row),
                null::pg_catalog.jsonb),
               (r.new_topic, %7$L::pg_catalog.jsonb,
                pg_catalog.jsonb_build_object('commit_timestamp', r.stamp, 'new', r.new_row),
                r.old_row),
               (r.old_topic, %8$L::pg_catalog.jsonb,
                pg_catalog.jsonb_build_object('commit_timestamp', r.stamp, 'old', r.old_row),
                case when r.old_topic operator(pg_catalog.=) r.new_topic then r.new_row end)
           ) as v (topic, document, rows, counterpart);
    if realtime.wake_due() then
        perform realtime.wake();
    end if;
    return null;
end
$body$
$fn$, function_name, realtime.topic_sql(tbl, parts, 'new'), rel_schema, rel_name,
          realtime.topic_sql(tbl, parts, 'old'),
          (document || '{"eventType": "UPDATE"}')::text,
          (document || '{"eventType": "UPDATE", "old": null}')::text,
          (document || '{"eventType": "DELETE", "new": {}}')::text);
    else
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
$fn$, function_name, realtime.topic_sql(tbl, parts, 'r'), rel_schema, rel_name,
          (document || case operation when 'INSERT' then '{"eventType": "INSERT", "old": null}'
                                      else '{"eventType": "DELETE", "new": {}}' end::jsonb)::text,
          case operation when 'INSERT' then 'new' else 'old' end,
          case operation when 'INSERT' then 'new_rows' else 'old_rows' end);
    end if;
    execute pg_catalog.format('comment on function realtime.%I() is %L', function_name,
        pg_catalog.format('threadcast: captures %s of %s (made by realtime.enable)',
            case operation when 'INSERT' then 'inserts' when 'DELETE' then 'deletes'
                           else 'updates' end, tbl));
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

-- disable() as in part 7, and it drops the table's three capture functions.
create or replace function realtime.disable(tbl regclass) returns void
language plpgsql
set search_path = ''
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

-- Every table has its own UPDATE capture now.
drop function realtime.capture_update();

-- Only the migrating owner generates capture functions (enable() is revoked likewise).
revoke execute on function realtime.create_capture_function(regclass, text[], text),
                           realtime.topic_sql(regclass, text[], text) from public;
