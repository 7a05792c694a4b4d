-- The generic capture functions threadcast shipped before realtime.enable() generated one per
-- table: bench.capture_statement is migration 0001's (every insert and delete until 0007),
-- bench.capture_update is 0007's (every update until 0009). write_overhead.py attaches them
-- to copies of ticket_notes so that one run measures what the generated functions gained.

create function bench.capture_statement() returns trigger
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

create or replace function bench.capture_update() returns trigger
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
