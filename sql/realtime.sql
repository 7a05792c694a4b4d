-- threadcast realtime engine: the current definition of every object, in one place.
--
-- A reusable schema that turns table changes into a durable, ordered event log that every
-- reader reads under row-level security. Nothing here knows about tickets: `realtime.enable()`
-- is all an application table needs (sql/ticket_app.sql is one such application). Alembic's
-- `realtime` track installs it (the baseline revision applies this file); a schema change is an
-- edit here plus a revision holding only the delta, and tests/test_migrations.py fails when
-- this file and baseline plus deltas disagree.
--
-- How ordering works (after PgQ): writers append to realtime.messages with their transaction
-- id. A reader never trusts `id > cursor`, because transactions commit in a different order
-- than they draw ids. Instead realtime.tick() takes a snapshot and records, as one "tick", the
-- ids of every event that became visible since the previous tick's snapshot. Ticks are created
-- one at a time, so every replica sees the same ticks with the same events in the same order.
-- An event's position is (tick_id, id); resuming from a position is an index seek on ticks.
--
-- Every function with a SET search_path names pg_catalog, pg_temp: with pg_temp last, a
-- caller's temporary schema cannot shadow a type or relation (docs/security.md).

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
    payload jsonb not null,
    -- The row an UPDATE variant is judged against but does not reveal (see
    -- create_capture_function). No user may read it; the log's policies may.
    counterpart jsonb
);

-- Writers append in txid order almost exactly, so a BRIN index finds recent and in-flight
-- transactions for a few bytes per range. Ranges are 8 pages: the newest range always
-- matches, and tick() rechecks every row in it. No autosummarize: with small ranges it
-- overflows autovacuum's work-item queue; the relay calls realtime.summarize() instead.
create index messages_txid_brin on realtime.messages
    using brin (txid) with (autosummarize = off, pages_per_range = 8);

alter table realtime.messages enable row level security;
-- Users read only these columns, never counterpart, and only the rows a policy admits.
revoke all on realtime.messages from public;
grant select (id, txid, topic, event, schema_name, table_name, payload)
    on realtime.messages to authenticated;

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
    -- The functions enable() generated to capture inserts, deletes and updates.
    capture_function text,
    capture_delete_function text,
    capture_update_function text,
    primary key (schema_name, table_name),
    -- Where visible_function came from: given to enable() ('explicit'), generated by enable()
    -- from the table's own SELECT policies ('derived'), or 'all rows' (a table without RLS
    -- whose every row every reader may see). For the last two, derived_rule is the expression
    -- the generated function evaluates; realtime.check() compares it with what the policies
    -- give now.
    rule text not null default 'explicit' check (rule in ('explicit', 'derived', 'all rows')),
    derived_rule text
);

-- Channels clients may subscribe to: a topic prefix and the function that decides, as the
-- subscribing user, whether they may (its one argument is the rest of the channel name).
create table realtime.channels (
    prefix text primary key check (prefix ~ '^[a-z][a-z0-9_-]*:$'),
    authorize_function text not null,
    argument_type text not null,
    -- Who sees a presence on the channel (register_channel()); null: whoever may subscribe.
    presence_function text
);

grant select on realtime.tables, realtime.channels to threadcast, authenticated;

-- Rate limiter for wake-ups; unlogged because losing it in a crash only costs one notify.
create unlogged table realtime.wakeup (
    id int primary key check (id = 1),
    notified_at timestamptz not null
);

insert into realtime.wakeup (id, notified_at) values (1, '-infinity');

-- Who is on a channel now: one row per tracked presence, keyed by the ref its client chose (one
-- per tab and channel), living with the stream connection it names. Ephemeral: unlogged (no
-- WAL, emptied by a crash; clients track again when they reconnect) and never in the log. The
-- replica holding the connection pushes expires_at forward (presence_heartbeat()); a presence
-- nobody holds any more, its replica dead, is swept when it expires. Only the server reads it:
-- users see presences through read_presence(), as the channel's rules allow.
create unlogged table realtime.presences (
    topic text not null,
    ref uuid not null,
    key text not null,  -- the tracking user's sub
    connection uuid not null,
    state jsonb not null check (pg_catalog.jsonb_typeof(state) = 'object'),
    updated_at timestamptz not null default pg_catalog.now(),
    expires_at timestamptz not null,
    primary key (topic, ref)
);
create index presences_connection on realtime.presences (connection);
create index presences_expires_at on realtime.presences (expires_at);

-- Identity -----------------------------------------------------------------------------------


-- The caller's JWT claims, as set by the server with set_config('request.jwt.claims', ...).
create function realtime.claims() returns jsonb
language sql stable parallel safe
as $$
    select coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), ''), '{}')::jsonb
$$;

-- The caller's user id (the `sub` claim), or null when there is none or it is not a uuid.
-- The server also sets request.jwt.claim.sub (as PostgREST does), which spares parsing the
-- claims document. One expression, no FROM: keep it inlinable (the sub is computed twice,
-- which costs less than a subquery).
create function realtime.uid() returns uuid
language sql stable parallel safe
as $$
    select case
        when coalesce(nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
                      realtime.claims() ->> 'sub')
             operator(pg_catalog.~*) '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
        then coalesce(nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
                      realtime.claims() ->> 'sub')::uuid
    end
$$;

-- The caller's role claim (anon, authenticated, ...).
create function realtime.role() returns text
language sql stable parallel safe
as $$
    select realtime.claims() ->> 'role'
$$;

grant execute on function realtime.claims(), realtime.uid(), realtime.role()
    to anon, authenticated, threadcast;

-- Supabase-style policies (`using (auth.uid() = user_id)`) run unchanged: where the database
-- has no auth schema, the engine creates one with auth.uid(), auth.jwt() and auth.role() over
-- the same claims as realtime.uid(), realtime.claims() and realtime.role(). An existing auth
-- schema (Supabase's, or the application's own) is left alone. The schema's comment marks it
-- as the engine's, so that uninstalling removes only what the engine created. The functions
-- read the settings themselves rather than call realtime.*, so that policies using them keep
-- working if they outlive the engine (sql/down/realtime.sql keeps them while policies use them).
do $$
begin
    if exists (select from pg_catalog.pg_namespace where nspname = 'auth') then
        return;
    end if;
    create schema auth;
    comment on schema auth is
        'threadcast: auth.uid(), auth.jwt() and auth.role() for Supabase-style policies (created by the realtime engine where no auth schema existed)';
    grant usage on schema auth to anon, authenticated, threadcast;

    -- The caller's JWT claims (as realtime.claims()).
    create function auth.jwt() returns jsonb
    language sql stable parallel safe
    as $body$
        select coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), ''),
                        '{}')::jsonb
    $body$;

    -- The caller's user id, or null when `sub` is missing or not a uuid (as realtime.uid()).
    create function auth.uid() returns uuid
    language sql stable parallel safe
    as $body$
        select case
            when coalesce(nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
                          auth.jwt() ->> 'sub')
                 operator(pg_catalog.~*) '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
            then coalesce(nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
                          auth.jwt() ->> 'sub')::uuid
        end
    $body$;

    -- The caller's role claim (as realtime.role()).
    create function auth.role() returns text
    language sql stable parallel safe
    as $body$
        select auth.jwt() ->> 'role'
    $body$;

    grant execute on function auth.jwt(), auth.uid(), auth.role()
        to anon, authenticated, threadcast;
end
$$;

-- Writing -------------------------------------------------------------------------------------


-- The current 50 ms interval of the clock, as text (epoch seconds x 20).
create function realtime.wake_bucket() returns text
language sql volatile
as $$
    select ((pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
             operator(pg_catalog.*) 20::pg_catalog.float8)::pg_catalog.int8)::pg_catalog.text
$$;

-- Whether a writer should call wake(): not if this session called it in the current 50 ms
-- interval (wake() reads the shared row and notifies if nobody has for 50 ms). Any other value
-- a session sets counts as "not this interval", so none can stop its wake-ups for longer than
-- 50 ms. Inlined into the capture functions, which run as their owner: every name is qualified.
create function realtime.wake_due() returns boolean
language sql volatile
as $$
    select coalesce(pg_catalog.current_setting('realtime.wake_bucket', true)
                    operator(pg_catalog.<>) realtime.wake_bucket(), true)
$$;

-- Wakes listeners, at most once per 50 ms across the whole database, and records for the
-- session that it looked in this interval, for wake_due() (a session setting, not SET LOCAL:
-- it outlives the transaction; a rollback undoes it).
--
-- Measured at 8 writers (benchmarks/write_overhead.py): any NOTIFY in every transaction halves
-- insert throughput, because NOTIFY takes a database-wide lock held through commit. So writers
-- notify only when nobody has in the last 50 ms; a listener that was woken keeps polling for
-- longer than that, which covers the writers that stayed quiet. The payload is empty: a
-- notification is a wake-up, never data, so no row size is bounded by NOTIFY's 8000 bytes.
create function realtime.wake() returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
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
    perform pg_catalog.set_config('realtime.wake_bucket', realtime.wake_bucket(), false);
end
$$;

-- Appends a custom event (for example ai_status) to the log.
create function realtime.send(topic text, event text, payload jsonb) returns bigint
language plpgsql security definer
set search_path = pg_catalog, pg_temp
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

-- The topic of a row as SQL over the row `row_alias` (r in the statement functions, new or
-- old in the row-level UPDATE one): literals and columns, each column the text of its JSON
-- value, as render_topic() gives it from to_jsonb(row), a NULL column as ''. For these types
-- that is the column cast to text (not bpchar, whose cast drops trailing blanks, nor domains,
-- which keep the general path).
create function realtime.topic_sql(tbl regclass, parts text[], row_alias text) returns text
language plpgsql stable
set search_path = pg_catalog, pg_temp
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
-- for 'UPDATE', which logs three variants of each row (so that each reader is judged on what it may see
-- before and after). They run as their owner without SET search_path (a SET costs every write:
-- benchmarks/write_overhead.py), so every name in them, types and operators included, is qualified and the
-- caller's path cannot reach them (tests/test_privileges.py tries). Each refuses any table but
-- its own, and only the owner may attach it.
create function realtime.create_capture_function(tbl regclass, parts text[], operation text)
returns text
language plpgsql
set search_path = pg_catalog, pg_temp
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
-- No SET search_path (see sql/008_capture_without_set.sql): every name, type and operator
-- is qualified. It refuses to run for any table but its own (sql/010_privileges.sql).
begin
    if tg_table_name operator(pg_catalog.<>) %4$L
            or tg_table_schema operator(pg_catalog.<>) %3$L then
        raise exception 'realtime: %% captures %%.%% only, not %%.%%', %1$L, %3$L, %4$L,
            tg_table_schema, tg_table_name using errcode = '42501';
    end if;
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
-- No SET search_path (see sql/008_capture_without_set.sql): every name, type and operator
-- is qualified. It refuses to run for any table but its own (sql/010_privileges.sql).
begin
    if tg_table_name operator(pg_catalog.<>) %4$L
            or tg_table_schema operator(pg_catalog.<>) %3$L then
        raise exception 'realtime: %% captures %%.%% only, not %%.%%', %1$L, %3$L, %4$L,
            tg_table_schema, tg_table_name using errcode = '42501';
    end if;
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
    -- Creating a trigger needs EXECUTE on its function: nobody but the owner may attach it.
    execute pg_catalog.format('revoke execute on function realtime.%I() from public', function_name);
    return pg_catalog.format('realtime.%I()', function_name);
end
$$;

-- The rule a table's own RLS applies when `authenticated` selects from it, as one boolean SQL
-- expression over a row aliased with the table's name: the table's permissive SELECT and ALL
-- policies for that role (to public, to authenticated, or to a role it inherits) OR'ed, its
-- restrictive ones AND'ed, null counting as not visible, as PostgreSQL combines them. What
-- cannot be judged on an event's row version the way the table judges that row it refuses,
-- naming the policy: a policy reading the table itself (its answer for a row depends on the
-- table's other rows and on that row still being there, which an event read later does not
-- see the same), a volatile function (its answer may differ between the two evaluations), an
-- expression the row alone cannot carry (a system column), or no permissive policy at all. A
-- policy may read the token's claims (auth.jwt()): events are read with each user's own.
-- row_columns lists the columns (attnums) the rule reads when it reads nothing else of the row
-- and has no subquery, so that the generated function can be inlined; otherwise it is null.
create function realtime.policy_rule(tbl regclass, out expression text, out row_columns smallint[])
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    rel_name text;
    rls boolean;
    policy record;
    permissive text[] := '{}';
    restrictive text[] := '{}';
    referenced smallint[] := '{}';
    inlinable boolean := true;
    volatile_function regprocedure;
    explicit_form text;
begin
    select c.relname, c.relrowsecurity into rel_name, rls from pg_catalog.pg_class c where c.oid = tbl;
    explicit_form := pg_catalog.format(
        'write a function of one %1$s row returning boolean that says who may see it, and pass'
        ' it: realtime.enable(%2$L, topic_template, %3$L)',
        tbl, tbl::text, 'schema.function(' || tbl::text || ')');
    if not rls then
        raise exception 'realtime.enable: table % does not have row level security enabled, so nothing says who may see its rows', tbl
            using errcode = '55000',
                  hint = 'enable row level security and add SELECT policies; or, if every reader may see every row, realtime.enable(table, topic_template, all_rows_visible => true)';
    end if;
    for policy in
        select p.polname, p.polpermissive,
               pg_catalog.pg_get_expr(p.polqual, p.polrelid) as expression,
               p.polqual::text as tree
          from pg_catalog.pg_policy p
         where p.polrelid = tbl
           and p.polcmd in ('r', '*')
           -- A policy without USING admits no row to a SELECT (as in the table's own RLS).
           and p.polqual is not null
           and exists (
               select from pg_catalog.unnest(p.polroles) as r(oid)
                where r.oid = 0 or pg_catalog.pg_has_role('authenticated', r.oid, 'USAGE'))
         order by p.polpermissive desc, p.polname
    loop
        if policy.tree ~ (':relid ' || tbl::oid::text || '\M') then
            raise exception 'realtime.enable: policy % on % reads % itself, so its answer for an event''s row would depend on the table as it is when the event is read',
                pg_catalog.quote_ident(policy.polname), tbl, tbl
                using errcode = '0A000', hint = explicit_form;
        end if;
        select f.oid::regprocedure into volatile_function
          from pg_catalog.regexp_matches(policy.tree, ':(?:funcid|opfuncid|aggfnoid|winfnoid) (\d+)', 'g') as m
          join pg_catalog.pg_proc f on f.oid = m[1]::oid
         where f.provolatile = 'v'
         limit 1;
        if found then
            raise exception 'realtime.enable: policy % on % calls volatile function %, whose answer for an event''s row may differ from the table''s',
                pg_catalog.quote_ident(policy.polname), tbl, volatile_function
                using errcode = '0A000', hint = explicit_form;
        end if;
        -- Everything the policy reads must be a column of the row (never a system column).
        begin
            execute pg_catalog.format('select (%s) from pg_catalog.unnest(array[null::%s]) as %I where false',
                                      policy.expression, tbl, rel_name);
        exception when others then
            raise exception 'realtime.enable: policy % on % cannot be judged on an event''s row: %',
                pg_catalog.quote_ident(policy.polname), tbl, sqlerrm
                using errcode = '0A000', hint = explicit_form;
        end;
        -- A subquery, or the whole row (a function of the row), needs the row as a FROM item.
        if policy.tree ~ '\{SUBLINK ' or policy.tree ~ '\{VAR :varno 1 :varattno 0 ' then
            inlinable := false;
        end if;
        referenced := referenced || array(
            select m[1]::smallint
              from pg_catalog.regexp_matches(policy.tree, '\{VAR :varno 1 :varattno (\d+) ', 'g') as m);
        if policy.polpermissive then
            permissive := permissive || ('(' || policy.expression || ')');
        else
            restrictive := restrictive || ('(' || policy.expression || ')');
        end if;
    end loop;
    if pg_catalog.cardinality(permissive) = 0 then
        raise exception 'realtime.enable: no permissive SELECT policy of % applies to role authenticated, so its select shows that role no row', tbl
            using errcode = '0A000',
                  hint = 'create one (create policy ... on ' || tbl::text || ' for select to authenticated using (...)); or ' || explicit_form;
    end if;
    expression := '(' || pg_catalog.array_to_string(permissive, ' or ') || ')'
        || coalesce(' and ' || nullif(pg_catalog.array_to_string(restrictive, ' and '), ''), '');
    if inlinable then
        row_columns := array(select distinct c from pg_catalog.unnest(referenced) as c order by c);
    end if;
end
$$;

-- Creates (or replaces) the visibility function enable() generated for a table from `rule`
-- (what policy_rule() gave, or 'true'), and returns it: a function of the table's row type,
-- which the log's policy calls as it calls one given to enable(). Where the rule reads only
-- columns (row_columns, see policy_rule()), it is a function of those columns, named after
-- them, wrapped by the row's: PostgreSQL inlines both into the log's policy, as it inlines a
-- hand-written `select r.owner = auth.uid()`. Otherwise it evaluates the rule over the one row
-- it is given, aliased with the table's name, so `col`, `table.col` and the row `table` (of the
-- table's type) resolve as in the policies. SQL-standard bodies: parsed once, here, so the
-- reader's search_path cannot change what they call. They run as the reading user, as the
-- table's own policies do, so their subqueries see what the reader may see.
create function realtime.create_visibility_function(
    tbl regclass, rule text, row_columns smallint[], source text
) returns regprocedure
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    rel_schema text;
    rel_name text;
    function_name text;
    parameters text;
    arguments text;
begin
    select n.nspname, c.relname into rel_schema, rel_name
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.oid = tbl;
    -- Within 63 bytes with the inner function's '_c'.
    function_name := pg_catalog.format('visible_%s_%s', pg_catalog.left(rel_name, 40),
        pg_catalog.left(pg_catalog.md5(rel_schema || '.' || rel_name), 12));
    if row_columns is null then
        execute pg_catalog.format(
            'create or replace function realtime.%1$I(%2$s) returns boolean language sql stable'
            ' return (select %3$s from pg_catalog.unnest(array[$1]) as %4$I)',
            function_name, tbl, rule, rel_name);
    else
        select coalesce(pg_catalog.string_agg(pg_catalog.format('%I %s', a.attname,
                            pg_catalog.format_type(a.atttypid, null)), ', ' order by a.attnum), ''),
               coalesce(pg_catalog.string_agg(pg_catalog.format('($1).%I', a.attname), ', '
                            order by a.attnum), '')
          into parameters, arguments
          from pg_catalog.pg_attribute a
         where a.attrelid = tbl and a.attnum = any (row_columns);
        execute pg_catalog.format(
            'create or replace function realtime.%1$I(%2$s) returns boolean language sql stable'
            ' return %3$s',
            function_name || '_c', parameters, rule);
        execute pg_catalog.format(
            'revoke execute on function realtime.%I(%s) from public', function_name || '_c',
            (select coalesce(pg_catalog.string_agg(pg_catalog.format_type(a.atttypid, null), ', '
                                                   order by a.attnum), '')
               from pg_catalog.pg_attribute a
              where a.attrelid = tbl and a.attnum = any (row_columns)));
        execute pg_catalog.format(
            'grant execute on function realtime.%I(%s) to authenticated', function_name || '_c',
            (select coalesce(pg_catalog.string_agg(pg_catalog.format_type(a.atttypid, null), ', '
                                                   order by a.attnum), '')
               from pg_catalog.pg_attribute a
              where a.attrelid = tbl and a.attnum = any (row_columns)));
        execute pg_catalog.format(
            'create or replace function realtime.%1$I(%2$s) returns boolean language sql stable'
            ' return realtime.%3$I(%4$s)',
            function_name, tbl, function_name || '_c', arguments);
    end if;
    execute pg_catalog.format('comment on function realtime.%I(%s) is %L', function_name, tbl,
        pg_catalog.format('threadcast: who may see a row of %s, %s (made by realtime.enable)',
                          tbl, source));
    execute pg_catalog.format('revoke execute on function realtime.%I(%s) from public',
                              function_name, tbl);
    execute pg_catalog.format('grant execute on function realtime.%I(%s) to authenticated',
                              function_name, tbl);
    return pg_catalog.format('realtime.%I(%s)', function_name, tbl)::regprocedure;
end
$$;

-- The name of the log's policy for a table: 'postgres_changes on schema.table', or, where that
-- passes PostgreSQL's 63 bytes, its start and a hash of the whole, so that two long names that
-- share a beginning get policies of their own.
create function realtime.log_policy_name(rel_schema text, rel_name text) returns text
language sql immutable
set search_path = pg_catalog, pg_temp
as $$
    select case
        when octet_length('postgres_changes on ' || rel_schema || '.' || rel_name) <= 63
        then 'postgres_changes on ' || rel_schema || '.' || rel_name
        else 'postgres_changes on ' || left(rel_schema || '.' || rel_name, 30) || ' '
             || left(md5(rel_schema || '.' || rel_name), 12)
    end
$$;

-- Makes a table realtime: its INSERT, UPDATE and DELETE become events on the topic rendered
-- from topic_template, readable by whoever may see the row version each event carries (both,
-- for an UPDATE's variants). Who that is:
--   * realtime.enable(tbl, topic_template): the table's own SELECT policies decide, as they
--     do for `authenticated` selecting from the table (see policy_rule() for what it refuses);
--   * realtime.enable(tbl, topic_template, visible): the function `visible` (of the table's
--     row type, returning boolean) decides; use it in the table's own SELECT policy too, so
--     the table and its events cannot disagree;
--   * realtime.enable(tbl, topic_template, all_rows_visible => true): every reader sees every
--     row of a table without row level security.
-- Enabling again replaces the previous configuration and regenerates the generated functions
-- (so after a policy change, enable again: realtime.check() tells which tables need it).
create function realtime.enable(
    tbl regclass, topic_template text, visible regprocedure default null,
    all_rows_visible boolean default false
) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    rel_schema text;
    rel_name text;
    rel_kind "char";
    rel_namespace oid;
    rls boolean;
    row_type oid;
    parts text[];
    column_name text;
    fn_args oidvector;
    fn_returns oid;
    rule_kind text := 'explicit';
    rule_sql text;
    rule_columns smallint[];
    capture_insert text;
    capture_delete text;
    capture_update text;
begin
    select n.nspname, c.relname, c.relkind, c.reltype, c.relnamespace, c.relrowsecurity
      into rel_schema, rel_name, rel_kind, row_type, rel_namespace, rls
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

    if visible is not null then
        if all_rows_visible then
            raise exception 'realtime.enable: give a visibility function or all_rows_visible => true, not both'
                using errcode = '22023';
        end if;
        select p.proargtypes, p.prorettype into fn_args, fn_returns
          from pg_catalog.pg_proc p where p.oid = visible;
        if pg_catalog.array_length(fn_args::oid[], 1) is distinct from 1
                or fn_args[0] <> row_type or fn_returns <> 'boolean'::regtype then
            raise exception 'realtime.enable: visibility function % must take one % row and return boolean',
                visible, tbl
                using errcode = '42883';
        end if;
    else
        if all_rows_visible is null then
            raise exception 'realtime.enable: all_rows_visible must be true or false, not null'
                using errcode = '22004';
        elsif all_rows_visible then
            if rls then
                raise exception 'realtime.enable: table % has row level security enabled, so all_rows_visible => true would show readers rows its policies hide', tbl
                    using errcode = '55000',
                          hint = 'leave all_rows_visible out: realtime.enable(table, topic_template) follows the table''s policies';
            end if;
            rule_kind := 'all rows';
            rule_sql := 'true';
            rule_columns := '{}';
        else
            rule_kind := 'derived';
            select p.expression, p.row_columns into rule_sql, rule_columns
              from realtime.policy_rule(tbl) as p;
        end if;
        -- The events carry every column of the row: readers must be able to select them all.
        if not (pg_catalog.has_schema_privilege('authenticated', rel_namespace, 'USAGE')
                and pg_catalog.has_table_privilege('authenticated', tbl, 'SELECT')) then
            raise exception 'realtime.enable: role authenticated may not select from %, but its events would show it every column', tbl
                using errcode = '42501',
                      hint = pg_catalog.format('grant usage on schema %I to authenticated; grant select on %s to authenticated',
                                               rel_schema, tbl);
        end if;
    end if;

    -- Enabling again replaces the previous configuration.
    if exists (select from realtime.tables t where t.schema_name = rel_schema and t.table_name = rel_name) then
        perform realtime.disable(tbl);
    end if;

    if visible is null then
        visible := realtime.create_visibility_function(tbl, rule_sql, rule_columns,
            case rule_kind when 'derived' then 'derived from its SELECT policies'
                           else 'every row to every reader' end);
    end if;
    capture_insert := realtime.create_capture_function(tbl, parts, 'INSERT');
    capture_delete := realtime.create_capture_function(tbl, parts, 'DELETE');
    capture_update := realtime.create_capture_function(tbl, parts, 'UPDATE');
    insert into realtime.tables
        (schema_name, table_name, topic_template, topic_parts, visible_function,
         capture_function, capture_delete_function, capture_update_function, rule, derived_rule)
    values (rel_schema, rel_name, topic_template, parts, visible::text,
            capture_insert, capture_delete, capture_update, rule_kind, rule_sql);

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
    -- function the table's RLS uses (or the one generated from its policies); null (unknown)
    -- counts as not visible.
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
        realtime.log_policy_name(rel_schema, rel_name),
        'postgres_changes', rel_schema, rel_name, 'eventType',
        'INSERT', visible::regproc, tbl, 'new',
        'DELETE', 'old');
end
$$;

-- Stops capturing a table's changes and drops the functions enable() generated for it. Its
-- past events stay in the log until pruned, but nobody can read them any more: their policy is
-- gone.
create function realtime.disable(tbl regclass) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    rel_schema text;
    rel_name text;
    configured realtime.tables;
    generated text;
    inner_function regprocedure;
begin
    select n.nspname, c.relname into rel_schema, rel_name
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.oid = tbl;
    execute format('drop trigger if exists realtime_capture_insert on %s', tbl);
    execute format('drop trigger if exists realtime_capture_delete on %s', tbl);
    execute format('drop trigger if exists realtime_capture_update on %s', tbl);
    execute format('drop policy if exists %I on realtime.messages',
                   realtime.log_policy_name(rel_schema, rel_name));
    -- Before realtime_0003 a long name was cut at 63 bytes (the parser cuts this one the same).
    execute format('drop policy if exists %I on realtime.messages',
                   'postgres_changes on ' || rel_schema || '.' || rel_name);
    delete from realtime.tables t
     where t.schema_name = rel_schema and t.table_name = rel_name
    returning t.* into configured;
    if configured.capture_function is not null then
        execute format('drop function if exists %s', configured.capture_function);
    end if;
    if configured.capture_delete_function is not null then
        execute format('drop function if exists %s', configured.capture_delete_function);
    end if;
    if configured.capture_update_function is not null then
        execute format('drop function if exists %s', configured.capture_update_function);
    end if;
    if configured.rule in ('derived', 'all rows') then
        select p.proname into generated
          from pg_catalog.pg_proc p where p.oid = pg_catalog.to_regprocedure(configured.visible_function);
        execute format('drop function if exists %s', configured.visible_function);
        -- And the function of the row's columns that it wrapped, if it did.
        for inner_function in
            select p.oid::regprocedure from pg_catalog.pg_proc p
             where p.pronamespace = 'realtime'::regnamespace and p.proname = generated || '_c'
        loop
            execute format('drop function %s', inner_function);
        end loop;
    end if;
end
$$;

-- Every enabled table with the policies its readers' selects go through, the log's rule for
-- it, and whether the two still agree: a derived rule agrees while deriving it again gives the
-- same rule (after a policy change it does not, until the table is enabled again); an 'all
-- rows' rule while the table has no row level security; an explicit rule when the table's only
-- policy for readers calls the same function on the row (otherwise agrees is null: only its
-- author can tell). Readers must also be able to select the table. `problem` says what is wrong.
create function realtime.check()
returns table (table_name regclass, rule text, policies text[], log_rule text, agrees boolean,
               problem text)
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    configured realtime.tables;
    tbl regclass;
    rls boolean;
    rule_now text;
    reader_policies text[];
begin
    for configured in select * from realtime.tables t order by t.schema_name, t.table_name loop
        tbl := pg_catalog.format('%I.%I', configured.schema_name, configured.table_name)::regclass;
        select c.relrowsecurity into rls from pg_catalog.pg_class c where c.oid = tbl;
        table_name := tbl;
        rule := configured.rule;
        problem := null;
        select coalesce(pg_catalog.array_agg(pg_catalog.format('%I %s for %s to %s using (%s)',
                   p.polname, case when p.polpermissive then 'permissive' else 'restrictive' end,
                   case p.polcmd when 'r' then 'select' else 'all' end,
                   (select pg_catalog.string_agg(case r.oid when 0 then 'public'
                                                 else pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r.oid)) end, ', ')
                      from pg_catalog.unnest(p.polroles) as r(oid)),
                   coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), ''))
                   order by p.polname), '{}')
          into policies
          from pg_catalog.pg_policy p
         where p.polrelid = tbl and p.polcmd in ('r', '*');
        if configured.rule = 'explicit' then
            log_rule := configured.visible_function;
            select pg_catalog.array_agg(pg_catalog.pg_get_expr(p.polqual, p.polrelid)
                                        || case when p.polpermissive then '' else ' (restrictive)' end)
              into reader_policies
              from pg_catalog.pg_policy p
             where p.polrelid = tbl and p.polcmd in ('r', '*') and p.polqual is not null
               and exists (
                   select from pg_catalog.unnest(p.polroles) as r(oid)
                    where r.oid = 0 or pg_catalog.pg_has_role('authenticated', r.oid, 'USAGE'));
            if rls and reader_policies = array[pg_catalog.format('%s(%I.*)',
                    configured.visible_function::regprocedure::regproc, configured.table_name)] then
                agrees := true;
            else
                agrees := null;
                problem := 'an explicit rule: compare ' || configured.visible_function
                    || ' with the policies yourself, or enable the table without it to derive the rule';
            end if;
        elsif configured.rule = 'all rows' then
            log_rule := 'every row to every reader';
            agrees := not rls;
            if rls then
                problem := 'row level security was enabled since: enable the table again without all_rows_visible';
            end if;
        else
            log_rule := configured.derived_rule;
            begin
                select p.expression into rule_now from realtime.policy_rule(tbl) as p;
                agrees := rule_now = configured.derived_rule;
                if not agrees then
                    problem := 'its policies changed since the rule was derived: run realtime.enable('
                        || pg_catalog.quote_literal(tbl::text) || ', '
                        || pg_catalog.quote_literal(configured.topic_template) || ') again';
                end if;
            exception when others then
                agrees := false;
                problem := sqlerrm;
            end;
        end if;
        if not (pg_catalog.has_schema_privilege('authenticated', configured.schema_name, 'USAGE')
                and pg_catalog.has_table_privilege('authenticated', tbl, 'SELECT')) then
            agrees := false;
            problem := coalesce(problem || '; ', '')
                || 'role authenticated may not select from the table, but its events show it every row they carry';
        end if;
        return next;
    end loop;
end
$$;

-- Registers a channel prefix ('ticket-threads:') and the function, of one argument, that
-- decides as the subscribing user whether they may subscribe to prefix || argument. Optionally
-- a presence rule: a function of (that argument, a presence's state jsonb) returning boolean
-- that decides, as the viewing user, whether they see that presence (without one, whoever
-- may subscribe sees every presence on the channel).
create function realtime.register_channel(
    prefix text, authorize regprocedure, presence_visible regprocedure default null
) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    fn_args oidvector;
    fn_returns oid;
    rule_args oidvector;
    rule_returns oid;
begin
    select p.proargtypes, p.prorettype into fn_args, fn_returns
      from pg_catalog.pg_proc p where p.oid = authorize;
    if pg_catalog.array_length(fn_args::oid[], 1) is distinct from 1
            or fn_returns <> 'boolean'::regtype then
        raise exception 'realtime.register_channel: % must take one argument and return boolean',
            authorize
            using errcode = '42883';
    end if;
    if presence_visible is not null then
        select p.proargtypes, p.prorettype into rule_args, rule_returns
          from pg_catalog.pg_proc p where p.oid = presence_visible;
        if pg_catalog.array_length(rule_args::oid[], 1) is distinct from 2
                or rule_args[0] <> fn_args[0] or rule_args[1] <> 'jsonb'::regtype
                or rule_returns <> 'boolean'::regtype then
            raise exception 'realtime.register_channel: % must take (%, jsonb) and return boolean',
                presence_visible, fn_args[0]::regtype
                using errcode = '42883';
        end if;
    end if;
    insert into realtime.channels (prefix, authorize_function, argument_type, presence_function)
    values (prefix, authorize::regproc::text, fn_args[0]::regtype::text,
            presence_visible::regproc::text)
    on conflict on constraint channels_pkey do update
        set authorize_function = excluded.authorize_function,
            argument_type = excluded.argument_type,
            presence_function = excluded.presence_function;
end
$$;

-- Reading -------------------------------------------------------------------------------------


-- Records the events that became visible since the last tick as a new tick, and returns the
-- latest tick id. Any number of servers may call it concurrently: ticks are created one at a
-- time, so all agree on them. A transaction still open when a tick is taken is in that tick's
-- snapshot as in progress; its events land in the first tick after it commits, and it never
-- holds back anyone else's. Like the relay's other hot queries it plans without sequential
-- scans: a plan cached while the log was small would scan the whole log on every tick.
create function realtime.tick() returns bigint
language plpgsql security definer
set search_path = pg_catalog, pg_temp
set enable_seqscan = off
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

    -- Visible now but not at the previous tick (PgQ's batch rule), as two disjoint BRIN range
    -- scans: transactions that started at or after the previous tick's xmax, and those in
    -- progress then (all below that xmax).
    select pg_catalog.array_agg(n.id order by n.id) into new_ids
      from (
        select m.id
          from realtime.messages m
         where m.txid >= pg_catalog.pg_snapshot_xmax(previous.snapshot)::text::bigint
           and m.txid < pg_catalog.pg_snapshot_xmax(current_snapshot)::text::bigint
           and pg_catalog.pg_visible_in_snapshot(m.txid::text::xid8, current_snapshot)
        union all
        select m.id
          from realtime.messages m
         where m.txid = any (array(
                   select x::text::bigint from pg_catalog.pg_snapshot_xip(previous.snapshot) as x))
           and pg_catalog.pg_visible_in_snapshot(m.txid::text::xid8, current_snapshot)
      ) as n;

    if new_ids is null then
        return previous.tick_id;
    end if;
    insert into realtime.ticks (tick_id, snapshot, message_ids)
    values (previous.tick_id + 1, current_snapshot, new_ids);
    return previous.tick_id + 1;
end
$$;

-- 4. One round trip per dispatch cycle instead of two.
--
-- The relay called tick() and then positions_after() up to the new tick. advance() does both
-- in one statement, and so in one transaction: its rows reach the caller only after that
-- transaction, and so the new tick, has committed (the server reports the statement complete
-- only then), so no client can be sent a position a crash could take back. Each row carries
-- the head tick, so a caller that receives max_events rows knows how far to keep reading
-- with positions_after().
create function realtime.advance(after_tick bigint, after_id bigint, max_events integer)
returns table (head_tick bigint, tick_id bigint, id bigint, topic text, event text)
language plpgsql security definer
set search_path = pg_catalog, pg_temp
set enable_seqscan = off
as $$
declare
    head bigint := realtime.tick();
begin
    if head <= after_tick then
        return;  -- the common idle case: nothing since the caller's position
    end if;
    return query
        select head, t.tick_id, m.id, m.topic, m.event
          from realtime.ticks t
         cross join lateral pg_catalog.unnest(t.message_ids) as u(id)
          join realtime.messages m on m.id = u.id
         where t.tick_id >= after_tick
           and t.tick_id <= head
           and (t.tick_id > after_tick or u.id > after_id)
         order by t.tick_id, u.id
         limit max_events;
end
$$;

-- The position of every event after (after_tick, after_id) up to upto_tick, in log order,
-- optionally only for some topics. Positions only: payloads are read as the user, under RLS.
-- A page costs what it holds, not what the tick it starts in holds: a client far behind
-- replays at its own pace however large the ticks (one statement with an ORDER BY sorted the
-- cursor's whole tick for every page). A change's schema, table and eventType come with its
-- position (null for other events): the server matches most bindings on them without parsing
-- the payload it later reads as the user (the same values, from the same payload).
create function realtime.change_positions_after(
    after_tick bigint, after_id bigint, upto_tick bigint,
    topics text[] default null, max_events integer default 10000
) returns table (
    tick_id bigint, id bigint, topic text, event text,
    change_schema text, change_table text, change_type text
)
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
set enable_seqscan = off
as $$
declare
    tick record;
    first_index integer;
    last_index integer;
    middle integer;
    found integer;
    remaining integer := max_events;
begin
    for tick in
        select t.tick_id, t.message_ids
          from realtime.ticks t
         where t.tick_id >= after_tick and t.tick_id <= upto_tick
         order by t.tick_id
    loop
        -- A tick's ids are sorted (tick() aggregates them in order): in the cursor's own tick,
        -- find the first one after the cursor by binary search.
        first_index := 1;
        last_index := coalesce(cardinality(tick.message_ids), 0);
        if tick.tick_id = after_tick then
            middle := last_index + 1;
            while first_index < middle loop
                if tick.message_ids[(first_index + middle) / 2] <= after_id then
                    first_index := (first_index + middle) / 2 + 1;
                else
                    middle := (first_index + middle) / 2;
                end if;
            end loop;
        end if;
        -- Then the tick's ids in slices of what the page still lacks; a topic filter may keep
        -- fewer than a slice holds, so slices go on until the page is full or the tick ends.
        while first_index <= last_index and remaining > 0 loop
            return query
                select tick.tick_id, m.id, m.topic, m.event,
                       case when m.event = 'postgres_changes' then m.payload ->> 'schema' end,
                       case when m.event = 'postgres_changes' then m.payload ->> 'table' end,
                       case when m.event = 'postgres_changes' then m.payload ->> 'eventType' end
                  from realtime.messages m
                 where m.id = any (tick.message_ids[first_index:first_index + remaining - 1])
                   and (topics is null or m.topic = any (topics))
                 order by m.id;
            get diagnostics found = row_count;
            first_index := first_index + remaining;
            remaining := remaining - found;
        end loop;
        exit when remaining <= 0;
    end loop;
end
$$;

-- The same positions without the change columns (the interface before realtime_0006).
create function realtime.positions_after(
    after_tick bigint, after_id bigint, upto_tick bigint,
    topics text[] default null, max_events integer default 10000
) returns table (tick_id bigint, id bigint, topic text, event text)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select p.tick_id, p.id, p.topic, p.event
      from realtime.change_positions_after(after_tick, after_id, upto_tick, topics, max_events) p
$$;

-- The newest position: where a subscriber that starts now begins.
create function realtime.head() returns table (tick_id bigint, id bigint)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select t.tick_id, coalesce(t.message_ids[array_upper(t.message_ids, 1)], 0)
      from realtime.ticks t order by t.tick_id desc limit 1
$$;

-- Whether a client may resume from a tick: 'ok', 'expired' (pruned by retention) or 'unknown'
-- (newer than any tick: from another database, or a restored backup).
create function realtime.cursor_state(cursor_tick bigint) returns text
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select case
        when cursor_tick < min(t.tick_id) then 'expired'
        when cursor_tick > max(t.tick_id) then 'unknown'
        else 'ok'
    end
    from realtime.ticks t
$$;

-- Refuses a role the server may not act as for a user: none, one that skips RLS (superuser,
-- BYPASSRLS) or one that owns the log (owners skip its policies). anon and authenticated
-- always do; any other is one the DBA granted the server's login (THREADCAST_ALLOWED_ROLES),
-- and SET ROLE checks that grant.
create function realtime.check_reader_role(user_role text, caller text) returns void
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    r pg_catalog.pg_roles;
begin
    if user_role in ('anon', 'authenticated') then
        return;
    end if;
    if user_role in ('threadcast', session_user) then
        raise exception '%: role % is the server''s own, not a role for users', caller, user_role
            using errcode = '42501';
    end if;
    select * into r from pg_catalog.pg_roles where rolname = user_role;
    if user_role is null or not found then
        raise exception '%: no such role %', caller, coalesce(pg_catalog.quote_literal(user_role), 'none')
            using errcode = '22023';
    end if;
    if r.rolsuper or r.rolbypassrls or pg_catalog.pg_has_role(
        user_role,
        (select c.relowner from pg_catalog.pg_class c where c.oid = 'realtime.messages'::pg_catalog.regclass),
        'USAGE'
    ) then
        raise exception '%: role % would read without row-level security', caller, user_role
            using errcode = '42501',
                  hint = 'a role for users must not be a superuser, have BYPASSRLS or own the log';
    end if;
end
$$;

-- The claims document a user is read with: the token's lasting claims when the server passes
-- them (any object), else {sub, role}; sub and role as the server verified them, always.
create function realtime.reader_claims(user_role text, user_sub text, user_claims jsonb)
returns text
language sql immutable
set search_path = pg_catalog, pg_temp
as $$
    select (case when pg_catalog.jsonb_typeof(user_claims) = 'object' then user_claims
                 else '{}'::jsonb end
            operator(pg_catalog.||) pg_catalog.jsonb_build_object('sub', user_sub, 'role', user_role))::text
$$;

-- 5. One round trip to authorize a subscription.
--
-- The relay checked a subscription as the user in a transaction of four statements (begin,
-- set role and claims, call the channel's function, commit): four round trips per connect,
-- which bounded a storm of reconnects at about 240 connects per second. authorize() does the
-- same in one statement: it switches to the user's role and claims (SET LOCAL, so the
-- statement's own transaction ends them, even on an error), calls the channel's authorize
-- function and returns its answer, null counting as no.
create function realtime.authorize(
    user_role text, user_sub text, channel_prefix text, channel_argument text,
    user_claims jsonb default null
) returns boolean
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    channel realtime.channels;
    allowed boolean;
    caller_role text := pg_catalog.current_setting('role');
    caller_claims text := pg_catalog.current_setting('request.jwt.claims', true);
    caller_sub text := pg_catalog.current_setting('request.jwt.claim.sub', true);
begin
    perform realtime.check_reader_role(user_role, 'realtime.authorize');
    select * into channel from realtime.channels c where c.prefix = channel_prefix;
    if not found then
        raise exception 'realtime.authorize: no channel prefix %', channel_prefix
            using errcode = '22023';
    end if;
    perform pg_catalog.set_config('role', user_role, true),
            pg_catalog.set_config('request.jwt.claims',
                realtime.reader_claims(user_role, user_sub, user_claims), true),
            pg_catalog.set_config('request.jwt.claim.sub', coalesce(user_sub, ''), true);
    -- Both names come from realtime.channels, which only the database owner writes
    -- (register_channel() checked the function's signature).
    execute pg_catalog.format('select %s($1::%s)', channel.authorize_function, channel.argument_type)
        into allowed
        using channel_argument;
    perform pg_catalog.set_config('role', caller_role, true),
            pg_catalog.set_config('request.jwt.claims', coalesce(caller_claims, ''), true),
            pg_catalog.set_config('request.jwt.claim.sub', coalesce(caller_sub, ''), true);
    return coalesce(allowed, false);
end
$$;

-- Reads one batch for many users in one statement: requests is a JSON array of {"role",
-- "sub", "claims"?, "ids": [message ids]}; for each it switches role and claims (SET LOCAL), reads the
-- ids under that user's RLS, and returns, per request (0-based position in the array), the ids
-- that user may read, with the payload text on the first row of each id and null after that.
-- At the end it puts the caller's role and claims back (on an error the rollback does). One
-- generic plan: PostgreSQL otherwise re-planned the RLS query for every identity.
--
-- No JIT. enable_seqscan = off keeps the log's lookups on its primary key, but it holds for
-- every query planned inside, policies' subqueries and derived rules included. Up to
-- PostgreSQL 17 a sequential scan with no alternative (a subquery reading a whole small table
-- under its own RLS, such as `channel_id in (select id from channels)`) still gets 1e10 added
-- to its cost, far above jit_above_cost, and a rule that is not inlined runs its query afresh
-- on each call: JIT compiled it once per event, reader and query, about 0.12 s each on
-- PostgreSQL 15 (18 counts disabled nodes instead of adding to the cost). Each of these
-- queries reads a few rows: JIT never pays for itself here.
create function realtime.read_batch(requests jsonb)
returns table (request integer, id bigint, payload text)
language plpgsql
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
set jit = off
as $$
declare
    req record;
    visible bigint[];
    texts text[];
    sent bigint[] := '{}';
    caller_role text := pg_catalog.current_setting('role');
    caller_claims text := pg_catalog.current_setting('request.jwt.claims', true);
    caller_sub text := pg_catalog.current_setting('request.jwt.claim.sub', true);
begin
    for req in
        select (e.ordinality - 1)::integer as n, e.value ->> 'role' as role,
               e.value ->> 'sub' as sub, e.value -> 'claims' as claims,
               array(select pg_catalog.jsonb_array_elements_text(e.value -> 'ids')::bigint) as ids
          from pg_catalog.jsonb_array_elements(requests) with ordinality as e(value, ordinality)
    loop
        perform realtime.check_reader_role(req.role, 'read_batch: request ' || req.n);
        perform pg_catalog.set_config('role', req.role, true),
                pg_catalog.set_config('request.jwt.claims',
                    realtime.reader_claims(req.role, req.sub, req.claims), true),
                pg_catalog.set_config('request.jwt.claim.sub', coalesce(req.sub, ''), true);

        -- Under the user's RLS, once (the rules cost most of a read): which of its ids may it
        -- see, with the payloads of those not already sent with an earlier identity.
        select coalesce(pg_catalog.array_agg(m.id), '{}'),
               coalesce(pg_catalog.array_agg(case when m.id = any (sent) then null
                                                  else m.payload::text end), '{}')
          into visible, texts
          from realtime.messages m
         where m.id = any (req.ids);
        return query
            select req.n, v.id, v.payload
              from rows from (pg_catalog.unnest(visible), pg_catalog.unnest(texts))
                   as v (id, payload);
        sent := sent || visible;
    end loop;
    perform pg_catalog.set_config('role', caller_role, true),
            pg_catalog.set_config('request.jwt.claims', coalesce(caller_claims, ''), true),
            pg_catalog.set_config('request.jwt.claim.sub', coalesce(caller_sub, ''), true);
end;
$$;

-- Presence ------------------------------------------------------------------------------------

-- Tells every replica that a channel's presence changed. The payload is only the topic: each
-- replica reads the state itself, as each of its viewers (read_presence()). NOTIFY folds
-- identical payloads of one transaction into one.
create function realtime.presence_changed(channel_topic text) returns void
language sql
set search_path = pg_catalog, pg_temp
as $$
    select pg_catalog.pg_notify('threadcast_presence_v1', channel_topic)
$$;

-- Tracks, or updates, a user's presence on a channel, living with stream_connection, if the
-- channel's authorize function admits the user (as for a subscription). Returns 'ok' or why
-- not: 'forbidden' (may not read the channel), 'ref_taken' (the ref is another user's
-- presence) or 'full' (the channel already holds max_presences presences). An update that
-- changes nothing but the expiry notifies nobody.
create function realtime.track(
    user_role text, user_sub text, user_claims jsonb, channel_prefix text,
    channel_argument text, presence_ref uuid, stream_connection uuid, presence_state jsonb,
    ttl interval, max_presences integer
) returns text
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    channel_topic text := channel_prefix || channel_argument;
    current realtime.presences;
begin
    if pg_catalog.jsonb_typeof(presence_state) is distinct from 'object' then
        raise exception 'realtime.track: a presence''s state must be a JSON object'
            using errcode = '22023';
    end if;
    if not realtime.authorize(user_role, user_sub, channel_prefix, channel_argument, user_claims)
    then
        return 'forbidden';
    end if;
    -- One tracker of a channel at a time, so that the cap holds under concurrent tracks.
    perform pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtextextended('realtime.presences ' || channel_topic, 0));
    select * into current from realtime.presences p
     where p.topic = channel_topic and p.ref = presence_ref;
    if found and current.key <> user_sub then
        return 'ref_taken';
    end if;
    if found and current.state = presence_state and current.connection = stream_connection then
        update realtime.presences p set expires_at = pg_catalog.now() + ttl
         where p.topic = channel_topic and p.ref = presence_ref;
        return 'ok';
    end if;
    if not found
            and (select pg_catalog.count(*) from realtime.presences p where p.topic = channel_topic)
                >= max_presences then
        return 'full';
    end if;
    insert into realtime.presences (topic, ref, key, connection, state, expires_at)
    values (channel_topic, presence_ref, user_sub, stream_connection, presence_state,
            pg_catalog.now() + ttl)
    on conflict (topic, ref) do update
        set connection = excluded.connection, state = excluded.state,
            updated_at = excluded.updated_at, expires_at = excluded.expires_at;
    perform realtime.presence_changed(channel_topic);
    return 'ok';
end
$$;

-- Ends a user's presence on a channel; whether there was one.
create function realtime.untrack(user_sub text, channel_topic text, presence_ref uuid)
returns boolean
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    delete from realtime.presences p
     where p.topic = channel_topic and p.ref = presence_ref and p.key = user_sub;
    if not found then
        return false;
    end if;
    perform realtime.presence_changed(channel_topic);
    return true;
end
$$;

-- Tells every replica about each of these channels once (presences there ended); returns how
-- many channels that is.
create function realtime.presence_ended(channel_topics text[]) returns integer
language sql
set search_path = pg_catalog, pg_temp
as $$
    select pg_catalog.count(realtime.presence_changed(t))::integer
      from (select distinct t from pg_catalog.unnest(channel_topics) t) as changed(t)
$$;

-- Ends every presence living with these stream connections (they closed); returns how many
-- channels that changed.
create function realtime.presence_end_connections(connections uuid[]) returns integer
language sql
set search_path = pg_catalog, pg_temp
as $$
    with gone as (
        delete from realtime.presences p where p.connection = any (connections)
        returning p.topic
    )
    select realtime.presence_ended(array(select gone.topic from gone))
$$;

-- A replica's heartbeat: the presences of its open connections live ttl longer, and every
-- presence past its expiry (its replica died, or its connection is nowhere) ends. Returns how
-- many channels that changed.
create function realtime.presence_heartbeat(connections uuid[], ttl interval) returns integer
language sql
set search_path = pg_catalog, pg_temp
as $$
    update realtime.presences p set expires_at = pg_catalog.now() + ttl
     where p.connection = any (connections);
    with gone as (
        delete from realtime.presences p where p.expires_at < pg_catalog.now()
        returning p.topic
    )
    select realtime.presence_ended(array(select gone.topic from gone));
$$;

-- What each of many users may see of some channels' presences, in one statement: requests is
-- a JSON array of {"role", "sub", "claims"?, "topics": [...]}. Per request (0-based) and
-- topic, as that user: nothing unless the channel's authorize function admits them (checked
-- again on every read, so a revoked member stops seeing at once), and then every presence, or
-- those the channel's presence rule admits. The rows and channels are read first, as the
-- server: users have no access to them.
create function realtime.read_presence(requests jsonb)
returns table (request integer, topic text, key text, ref uuid, state text)
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    req record;
    channel_topic text;
    channel realtime.channels;
    allowed boolean;
    present realtime.presences[];
    channels jsonb := '{}';
    caller_role text := pg_catalog.current_setting('role');
    caller_claims text := pg_catalog.current_setting('request.jwt.claims', true);
    caller_sub text := pg_catalog.current_setting('request.jwt.claim.sub', true);
begin
    select coalesce(pg_catalog.array_agg(p), '{}') into present
      from realtime.presences p
     where p.topic in (select pg_catalog.jsonb_array_elements_text(r -> 'topics')
                         from pg_catalog.jsonb_array_elements(requests) r);
    for channel in
        select c.* from realtime.channels c
         where c.prefix in (select pg_catalog.split_part(t, ':', 1) || ':'
                              from pg_catalog.jsonb_array_elements(requests) r,
                                   pg_catalog.jsonb_array_elements_text(r -> 'topics') t)
    loop
        channels := channels || pg_catalog.jsonb_build_object(channel.prefix,
            pg_catalog.to_jsonb(channel));
    end loop;
    for req in
        select (e.ordinality - 1)::integer as n, e.value ->> 'role' as role,
               e.value ->> 'sub' as sub, e.value -> 'claims' as claims,
               e.value -> 'topics' as topics
          from pg_catalog.jsonb_array_elements(requests) with ordinality as e(value, ordinality)
    loop
        perform realtime.check_reader_role(req.role, 'read_presence: request ' || req.n);
        perform pg_catalog.set_config('role', req.role, true),
                pg_catalog.set_config('request.jwt.claims',
                    realtime.reader_claims(req.role, req.sub, req.claims), true),
                pg_catalog.set_config('request.jwt.claim.sub', coalesce(req.sub, ''), true);
        for channel_topic in select pg_catalog.jsonb_array_elements_text(req.topics) loop
            channel := pg_catalog.jsonb_populate_record(null::realtime.channels,
                channels -> (pg_catalog.split_part(channel_topic, ':', 1) || ':'));
            if channel.prefix is null then
                continue;  -- no such channel (any more): nobody sees anything on it
            end if;
            -- The names come from realtime.channels, which only the database owner writes
            -- (register_channel() checked the functions' signatures).
            execute pg_catalog.format('select %s($1::%s)',
                                      channel.authorize_function, channel.argument_type)
                into allowed
                using pg_catalog.substr(channel_topic, pg_catalog.length(channel.prefix) + 1);
            if not coalesce(allowed, false) then
                continue;
            end if;
            if channel.presence_function is null then
                return query
                    select req.n, p.topic, p.key, p.ref, p.state::text
                      from pg_catalog.unnest(present) p
                     where p.topic = channel_topic;
            else
                return query execute pg_catalog.format(
                    'select $1, p.topic, p.key, p.ref, p.state::text'
                    '  from pg_catalog.unnest($2) p'
                    ' where p.topic = $3 and %s($4::%s, p.state) is true',
                    channel.presence_function, channel.argument_type)
                    using req.n, present, channel_topic,
                          pg_catalog.substr(channel_topic, pg_catalog.length(channel.prefix) + 1);
            end if;
        end loop;
    end loop;
    perform pg_catalog.set_config('role', caller_role, true),
            pg_catalog.set_config('request.jwt.claims', coalesce(caller_claims, ''), true),
            pg_catalog.set_config('request.jwt.claim.sub', coalesce(caller_sub, ''), true);
end
$$;

-- Retention ------------------------------------------------------------------------------------


-- Summarizes the log's new BRIN page ranges, so tick()'s scan stays short as the log grows;
-- returns how many. Gives up at once (returning null) when VACUUM or another replica holds the
-- lock it needs, since the next call will do. The relay calls it about once a second.
create function realtime.summarize() returns integer
language plpgsql security definer
set search_path = pg_catalog, pg_temp
set lock_timeout = '50ms'
as $$
begin
    return pg_catalog.brin_summarize_new_values('realtime.messages_txid_brin'::regclass);
exception
    when lock_not_available then
        return null;
end
$$;

-- Deletes ticks older than `keep` (always keeping the newest) and the events only they held.
-- Returns the number of events deleted. A cursor into a deleted tick gets 'expired'.
create function realtime.prune(keep interval) returns bigint
language plpgsql security definer
set search_path = pg_catalog, pg_temp
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

-- Grants ----------------------------------------------------------------------------------------

-- Only trusted code (SECURITY DEFINER functions, the server) may write arbitrary events:
-- a forged postgres_changes event would be judged on its forged row.
revoke execute on function realtime.send(text, text, jsonb) from public;
revoke execute on function realtime.wake() from public;
grant execute on function realtime.send(text, text, jsonb) to threadcast;
revoke execute on function realtime.tick(), realtime.positions_after(bigint, bigint, bigint, text[], integer),
    realtime.change_positions_after(bigint, bigint, bigint, text[], integer),
    realtime.head(), realtime.cursor_state(bigint), realtime.prune(interval)
    from public;
grant execute on function realtime.tick(), realtime.positions_after(bigint, bigint, bigint, text[], integer),
    realtime.change_positions_after(bigint, bigint, bigint, text[], integer),
    realtime.head(), realtime.cursor_state(bigint), realtime.prune(interval)
    to threadcast;
-- Only the migrating owner configures tables and channels and generates capture functions.
revoke execute on function
    realtime.enable(regclass, text, regprocedure, boolean), realtime.disable(regclass),
    realtime.register_channel(text, regprocedure, regprocedure)
    from public;
revoke execute on function realtime.check() from public;
revoke execute on function realtime.read_batch(jsonb) from public;
grant execute on function realtime.read_batch(jsonb) to threadcast;
revoke execute on function realtime.summarize() from public;
grant execute on function realtime.summarize() to threadcast;
revoke execute on function realtime.advance(bigint, bigint, integer) from public;
grant execute on function realtime.advance(bigint, bigint, integer) to threadcast;
revoke execute on function realtime.authorize(text, text, text, text, jsonb) from public;
grant execute on function realtime.authorize(text, text, text, text, jsonb) to threadcast;
-- check_reader_role() and reader_claims() keep PUBLIC's execute: read_batch() calls them after
-- it has switched to a user's role, and they reveal nothing pg_roles does not.
revoke execute on function realtime.create_capture_function(regclass, text[], text),
                           realtime.topic_sql(regclass, text[], text),
                           realtime.policy_rule(regclass),
                           realtime.log_policy_name(text, text),
                           realtime.create_visibility_function(regclass, text, smallint[], text)
    from public;
-- Generators of trusted SQL: nobody but the owner needs them.
revoke execute on function realtime.render_topic(text[], jsonb),
                           realtime.change_payload(text, text, text, jsonb, jsonb),
                           realtime.parse_topic_template(text),
                           realtime.wake_due(), realtime.wake_bucket() from public;
-- Presence is the server's: it tracks for users it authenticated and reads as each viewer.
revoke all on realtime.presences from public;
grant select, insert, update, delete on realtime.presences to threadcast;
revoke execute on function
    realtime.presence_changed(text),
    realtime.track(text, text, jsonb, text, text, uuid, uuid, jsonb, interval, integer),
    realtime.untrack(text, text, uuid),
    realtime.presence_ended(text[]),
    realtime.presence_end_connections(uuid[]),
    realtime.presence_heartbeat(uuid[], interval),
    realtime.read_presence(jsonb)
    from public;
grant execute on function
    realtime.presence_changed(text),
    realtime.track(text, text, jsonb, text, text, uuid, uuid, jsonb, interval, integer),
    realtime.untrack(text, text, uuid),
    realtime.presence_ended(text[]),
    realtime.presence_end_connections(uuid[]),
    realtime.presence_heartbeat(uuid[], interval),
    realtime.read_presence(jsonb)
    to threadcast;
