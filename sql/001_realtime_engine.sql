-- threadcast realtime engine, version 1.
--
-- A reusable schema that turns table changes into a durable, ordered event log that every
-- reader reads under row-level security. Apply with psql; `sql/down/001_realtime_engine.sql`
-- reverses it. Nothing here knows about tickets: `realtime.enable()` is all an application
-- table needs.
--
-- How ordering works (after PgQ): writers append to realtime.messages with their transaction
-- id. A reader never trusts `id > cursor`, because transactions commit in a different order
-- than they draw ids. Instead realtime.tick() takes a snapshot and records, as one "tick", the
-- ids of every event that became visible since the previous tick's snapshot. Ticks are created
-- one at a time, so every replica sees the same ticks with the same events in the same order.
-- An event's position is (tick_id, id); resuming from a position is an index seek on ticks.

-- Roles ---------------------------------------------------------------------------------------

-- Roles are cluster-wide: create them only if another database has not already done so.
do $$
begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'anon') then
        create role anon nologin;
    end if;
    if not exists (select from pg_catalog.pg_roles where rolname = 'authenticated') then
        create role authenticated nologin;
    end if;
    -- The server logs in as threadcast and reads as each user with SET LOCAL ROLE.
    if not exists (select from pg_catalog.pg_roles where rolname = 'threadcast') then
        create role threadcast login;
    end if;
end
$$;

grant anon, authenticated to threadcast;

create schema realtime;
comment on schema realtime is 'threadcast realtime engine: change log, ticks, RLS-filtered reads';

grant usage on schema realtime to anon, authenticated, threadcast;

-- Tables --------------------------------------------------------------------------------------

-- The durable log. payload is the exact document clients receive.
create table realtime.messages (
    id bigint generated always as identity primary key,
    -- Writer's transaction id (xid8 as bigint, so a BRIN index can cover it).
    txid bigint not null default (pg_catalog.pg_current_xact_id()::text::bigint),
    topic text not null,
    event text not null,
    -- Source table of a postgres_changes event; the RLS policy for that table applies.
    schema_name text,
    table_name text,
    payload jsonb not null
);

-- Writers append in txid order almost exactly, so a BRIN index finds recent and in-flight
-- transactions for a few bytes per 128 pages instead of a btree entry per event.
create index messages_txid_brin on realtime.messages using brin (txid) with (autosummarize = on);

alter table realtime.messages enable row level security;
grant select on realtime.messages to authenticated;

-- One row per batch of newly visible events, in commit-visibility order.
create table realtime.ticks (
    tick_id bigint primary key,
    snapshot pg_catalog.pg_snapshot not null,
    message_ids bigint[] not null,
    created_at timestamptz not null default pg_catalog.clock_timestamp()
);

-- Tick 0: nothing before this install is an event.
insert into realtime.ticks (tick_id, snapshot, message_ids)
values (0, pg_catalog.pg_current_snapshot(), '{}');

-- Tables whose changes are captured, and how their topic is built.
create table realtime.tables (
    schema_name text not null,
    table_name text not null,
    topic_template text not null,
    -- The template split into literal, column, literal, column, ... parts.
    topic_parts text[] not null,
    -- Row-level visibility rule, shared with the table's own RLS policy.
    visible_function text not null,
    primary key (schema_name, table_name)
);

-- Channels clients may subscribe to: a topic prefix and the function that decides, as the
-- subscribing user, whether they may (its one argument is the rest of the channel name).
create table realtime.channels (
    prefix text primary key check (prefix ~ '^[a-z][a-z0-9_-]*:$'),
    authorize_function text not null,
    argument_type text not null
);

grant select on realtime.tables, realtime.channels to threadcast, authenticated;

-- Rate limiter for wake-ups; unlogged because losing it in a crash only costs one notify.
create unlogged table realtime.wakeup (
    id int primary key check (id = 1),
    notified_at timestamptz not null
);

insert into realtime.wakeup (id, notified_at) values (1, '-infinity');

-- Identity -----------------------------------------------------------------------------------

-- The caller's JWT claims, as set by the server with set_config('request.jwt.claims', ...).
create function realtime.claims() returns jsonb
language sql stable parallel safe
as $$
    select coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), ''), '{}')::jsonb
$$;

-- The caller's user id (the `sub` claim), or null when there is none or it is not a uuid.
-- The server also sets request.jwt.claim.sub (as PostgREST does), which spares parsing the
-- claims document on every call: RLS calls this once per event row per reader.
create function realtime.uid() returns uuid
language sql stable parallel safe
as $$
    select case
        when sub ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' then sub::uuid
    end
    from coalesce(
        nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
        realtime.claims() ->> 'sub'
    ) as sub
$$;

-- The caller's role claim (anon, authenticated, ...).
create function realtime.role() returns text
language sql stable parallel safe
as $$
    select realtime.claims() ->> 'role'
$$;

grant execute on function realtime.claims(), realtime.uid(), realtime.role()
    to anon, authenticated, threadcast;

-- Writing -------------------------------------------------------------------------------------

-- Wakes listeners, at most once per 50 ms across the whole database.
--
-- Measured at 8 writers (benchmarks/write_overhead.py): any NOTIFY in every transaction halves
-- insert throughput, because NOTIFY takes a database-wide lock held through commit. So writers
-- notify only when nobody has in the last 50 ms; a listener that was woken keeps polling for
-- longer than that, which covers the writers that stayed quiet. The payload is empty: a
-- notification is a wake-up, never data, so no row size is bounded by NOTIFY's 8000 bytes.
create function realtime.wake() returns void
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

-- Appends a custom event (for example ai_status) to the log.
create function realtime.send(topic text, event text, payload jsonb) returns bigint
language plpgsql security definer
set search_path = ''
as $$
declare
    message_id bigint;
begin
    if topic is null or topic = '' then
        raise exception 'realtime.send: topic must not be empty' using errcode = '22023';
    end if;
    if event is null or event !~ '^[a-z][a-z0-9_]{0,62}$' or event in ('postgres_changes', 'system') then
        raise exception 'realtime.send: invalid event name %', event
            using errcode = '22023',
                  hint = 'lowercase letters, digits and _; postgres_changes and system are reserved';
    end if;
    if payload is null or pg_catalog.jsonb_typeof(payload) <> 'object' then
        raise exception 'realtime.send: payload must be a JSON object' using errcode = '22023';
    end if;
    insert into realtime.messages (topic, event, payload)
    values (topic, event, payload)
    returning id into message_id;
    perform realtime.wake();
    return message_id;
end
$$;

-- Only trusted code (SECURITY DEFINER functions, the server) may write arbitrary events:
-- a forged postgres_changes event would be judged on its forged row.
revoke execute on function realtime.send(text, text, jsonb) from public;
revoke execute on function realtime.wake() from public;
grant execute on function realtime.send(text, text, jsonb) to threadcast;

-- Renders a topic from its parts (literal, column, literal, ...) and a row. PL/pgSQL: a SQL
-- function that cannot be inlined is planned again on every call, once per captured row.
create function realtime.render_topic(parts text[], row_data jsonb) returns text
language plpgsql immutable parallel safe
as $$
declare
    topic text := coalesce(parts[1], '');
begin
    for i in 2..coalesce(array_length(parts, 1), 0) by 2 loop
        topic := topic || coalesce(row_data ->> parts[i], '') || coalesce(parts[i + 1], '');
    end loop;
    return topic;
end
$$;

-- The payload every client receives, the same for every table and matching Supabase's
-- postgres_changes. commit_timestamp is the time of the writing statement: a trigger cannot
-- see its transaction's commit time.
create function realtime.change_payload(
    schema_name text, table_name text, event_type text, new_row jsonb, old_row jsonb
) returns jsonb
language sql stable parallel safe
as $$
    select jsonb_build_object(
        'schema', schema_name,
        'table', table_name,
        'commit_timestamp', pg_catalog.statement_timestamp(),
        'eventType', event_type,
        'new', coalesce(new_row, '{}'),
        'old', old_row,
        'errors', null
    )
$$;

-- Statement-level capture of INSERT and DELETE, reading the transition table once: a 100-row
-- statement costs one insert into the log, not 100. TG_ARGV[0] holds the topic parts.
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

-- Row-level capture of UPDATE: the row trigger pairs each new row with its old one, which a
-- statement trigger could only do by joining on a primary key that the update may change.
create function realtime.capture_update() returns trigger
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

-- Splits 'ticket-threads:{ticket_id}' into {'ticket-threads:', 'ticket_id'}.
create function realtime.parse_topic_template(template text) returns text[]
language plpgsql immutable
as $$
declare
    parts text[] := '{}';
    rest text := template;
    match text[];
begin
    if template is null or template = '' then
        raise exception 'realtime: topic template must not be empty' using errcode = '22023';
    end if;
    loop
        match := pg_catalog.regexp_match(rest, '^([^{}]*)\{([a-z_][a-z0-9_]*)\}(.*)$');
        exit when match is null;
        parts := parts || match[1] || match[2];
        rest := match[3];
    end loop;
    if rest ~ '[{}]' then
        raise exception 'realtime: malformed topic template %', template
            using errcode = '22023', hint = 'write columns as {column_name}, e.g. ticket-threads:{ticket_id}';
    end if;
    return parts || rest;
end
$$;

-- Makes a table realtime: its INSERT, UPDATE and DELETE become events on the topic rendered
-- from topic_template, readable by whoever `visible` (a function of the table's row type,
-- returning boolean) admits. Use the same function in the table's own SELECT policy, so the
-- table and its events cannot disagree about who sees a row.
create function realtime.enable(tbl regclass, topic_template text, visible regprocedure)
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

-- Stops capturing a table's changes. Its past events stay in the log until pruned, but nobody
-- can read them any more: their policy is gone.
create function realtime.disable(tbl regclass) returns void
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

-- Registers a channel prefix ('ticket-threads:') and the function, of one argument, that
-- decides as the subscribing user whether they may subscribe to prefix || argument.
create function realtime.register_channel(prefix text, authorize regprocedure) returns void
language plpgsql
set search_path = ''
as $$
declare
    fn_args oidvector;
    fn_returns oid;
begin
    select p.proargtypes, p.prorettype into fn_args, fn_returns
      from pg_catalog.pg_proc p where p.oid = authorize;
    if pg_catalog.array_length(fn_args::oid[], 1) is distinct from 1
            or fn_returns <> 'boolean'::regtype then
        raise exception 'realtime.register_channel: % must take one argument and return boolean',
            authorize
            using errcode = '42883';
    end if;
    insert into realtime.channels (prefix, authorize_function, argument_type)
    values (prefix, authorize::regproc::text, fn_args[0]::regtype::text)
    on conflict on constraint channels_pkey do update
        set authorize_function = excluded.authorize_function,
            argument_type = excluded.argument_type;
end
$$;

-- Reading -------------------------------------------------------------------------------------

-- Records the events that became visible since the last tick as a new tick, and returns the
-- latest tick id. Any number of servers may call it concurrently: ticks are created one at a
-- time, so all agree on them. A transaction still open when a tick is taken is in that tick's
-- snapshot as in progress; its events land in the first tick after it commits, and it never
-- holds back anyone else's.
create function realtime.tick() returns bigint
language plpgsql security definer
set search_path = ''
as $$
declare
    previous realtime.ticks;
    current_snapshot pg_catalog.pg_snapshot;
    new_ids bigint[];
begin
    if pg_catalog.current_setting('transaction_isolation') <> 'read committed' then
        raise exception 'realtime.tick() must run at read committed isolation'
            using errcode = '25001',
                  hint = 'it needs a snapshot taken after the previous tick committed';
    end if;
    -- Serialise tick creation. Each statement below takes a fresh snapshot, so it sees the
    -- previous tick committed and everything that tick saw.
    lock table realtime.ticks in share row exclusive mode;
    select * into previous from realtime.ticks order by tick_id desc limit 1;
    select pg_catalog.pg_current_snapshot() into current_snapshot;

    -- Visible now but not at the previous tick: started at or after its xmax, or in
    -- progress then (PgQ's batch rule). Both arms are BRIN range scans on txid.
    select array_agg(m.id order by m.id) into new_ids
      from realtime.messages m
     where (m.txid >= pg_catalog.pg_snapshot_xmax(previous.snapshot)::text::bigint
            or m.txid = any (array(
                select x::text::bigint from pg_catalog.pg_snapshot_xip(previous.snapshot) as x)))
       and m.txid < pg_catalog.pg_snapshot_xmax(current_snapshot)::text::bigint
       and pg_catalog.pg_visible_in_snapshot(m.txid::text::xid8, current_snapshot);

    if new_ids is null then
        return previous.tick_id;
    end if;
    insert into realtime.ticks (tick_id, snapshot, message_ids)
    values (previous.tick_id + 1, current_snapshot, new_ids);
    return previous.tick_id + 1;
end
$$;

-- The position of every event after (after_tick, after_id) up to upto_tick, in log order,
-- optionally only for some topics. Positions only: payloads are read as the user, under RLS.
create function realtime.positions_after(
    after_tick bigint, after_id bigint, upto_tick bigint,
    topics text[] default null, max_events integer default 10000
) returns table (tick_id bigint, id bigint, topic text, event text)
language sql stable security definer
set search_path = ''
as $$
    select t.tick_id, m.id, m.topic, m.event
      from realtime.ticks t
     cross join lateral unnest(t.message_ids) as u(id)
      join realtime.messages m on m.id = u.id
     where t.tick_id >= after_tick
       and t.tick_id <= upto_tick
       and (t.tick_id > after_tick or u.id > after_id)
       and (topics is null or m.topic = any (topics))
     order by t.tick_id, u.id
     limit max_events
$$;

-- The newest position: where a subscriber that starts now begins.
create function realtime.head() returns table (tick_id bigint, id bigint)
language sql stable security definer
set search_path = ''
as $$
    select t.tick_id, coalesce(t.message_ids[array_upper(t.message_ids, 1)], 0)
      from realtime.ticks t order by t.tick_id desc limit 1
$$;

-- Whether a client may resume from a tick: 'ok', 'expired' (pruned by retention) or 'unknown'
-- (newer than any tick: from another database, or a restored backup).
create function realtime.cursor_state(cursor_tick bigint) returns text
language sql stable security definer
set search_path = ''
as $$
    select case
        when cursor_tick < min(t.tick_id) then 'expired'
        when cursor_tick > max(t.tick_id) then 'unknown'
        else 'ok'
    end
    from realtime.ticks t
$$;

-- Retention ------------------------------------------------------------------------------------

-- Deletes ticks older than `keep` (always keeping the newest) and the events only they held.
-- Returns the number of events deleted. A cursor into a deleted tick gets 'expired'.
create function realtime.prune(keep interval) returns bigint
language plpgsql security definer
set search_path = ''
as $$
declare
    oldest realtime.ticks;
    deleted bigint;
begin
    if keep is null or keep < interval '0' then
        raise exception 'realtime.prune: keep must be a non-negative interval, got %', keep
            using errcode = '22023';
    end if;
    lock table realtime.ticks in share row exclusive mode;
    delete from realtime.ticks
     where created_at < pg_catalog.clock_timestamp() - keep
       and tick_id < (select max(tick_id) from realtime.ticks);
    select * into oldest from realtime.ticks order by tick_id limit 1;
    -- Every committed event below the oldest snapshot's xmin belongs to that tick or a deleted
    -- one; events of aborted transactions below it were never visible.
    delete from realtime.messages m
     where m.txid < pg_catalog.pg_snapshot_xmin(oldest.snapshot)::text::bigint
       and m.id <> all (oldest.message_ids);
    get diagnostics deleted = row_count;
    return deleted;
end
$$;

revoke execute on function realtime.tick(), realtime.positions_after(bigint, bigint, bigint, text[], integer),
    realtime.head(), realtime.cursor_state(bigint), realtime.prune(interval)
    from public;
grant execute on function realtime.tick(), realtime.positions_after(bigint, bigint, bigint, text[], integer),
    realtime.head(), realtime.cursor_state(bigint), realtime.prune(interval)
    to threadcast;
revoke execute on function realtime.enable(regclass, text, regprocedure), realtime.disable(regclass),
    realtime.register_channel(text, regprocedure)
    from public;
