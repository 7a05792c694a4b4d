-- Reverts 004_update_visibility.sql: the previous capture_update() and enable(), policies
-- rebuilt by them, and the counterpart column dropped.

-- Row-level capture of UPDATE: the row trigger pairs each new row with its old one, which a
-- statement trigger could only do by joining on a primary key that the update may change.
create or replace function realtime.capture_update() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
    new_row jsonb := pg_catalog.to_jsonb(new);
begin
    insert into realtime.messages (topic, event, schema_name, table_name, payload)
    values (realtime.render_topic(tg_argv[0]::text[], new_row), 'postgres_changes',
            tg_table_schema, tg_table_name,
            realtime.change_payload(tg_table_schema, tg_table_name, 'UPDATE', new_row,
                                    pg_catalog.to_jsonb(old)));
    if (select notified_at from realtime.wakeup where id = 1)
            < pg_catalog.clock_timestamp() - interval '50 ms' then
        perform realtime.wake();
    end if;
    return null;
end
$$;

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

    -- Events are judged on the row as it was in the event: the new row, or the old one for
    -- a DELETE. The policy calls the very function the table's RLS uses.
    execute format(
        'create policy %I on realtime.messages for select to authenticated using ('
        ' event = %L and schema_name = %L and table_name = %L and %s(jsonb_populate_record(null::%s,'
        ' case when payload ->> %L = %L then payload -> %L else payload -> %L end)))',
        'postgres_changes on ' || rel_schema || '.' || rel_name,
        'postgres_changes', rel_schema, rel_name, visible::regproc, tbl,
        'eventType', 'DELETE', 'old', 'new');
end
$$;

-- Re-enable every realtime table, so its policy is rebuilt by the function above.
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

delete from realtime.messages where counterpart is not null;
revoke select (id, txid, topic, event, schema_name, table_name, payload)
    on realtime.messages from authenticated;
alter table realtime.messages drop column counterpart;
grant select on realtime.messages to authenticated;
