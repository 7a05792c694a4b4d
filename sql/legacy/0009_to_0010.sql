-- Legacy: brings a database built by the numbered migrations to revision 0009 up to 0010, whose
-- schema is the baseline's (sql/realtime.sql + sql/ticket_app.sql), so that it can be stamped
-- to the baselines (server/threadcast/migrations.py, adopt_legacy_revision). This is revision
-- 0010 as it shipped; it is history and is never edited.
--
-- threadcast, part 10: privileges. Closes the holes a security review found; every
-- SECURITY DEFINER function is audited in docs/security.md.
--
-- 1. `set search_path = ''` does not stop a caller's temporary schema: PostgreSQL still looks
--    in pg_temp first for *types* (and relations) when pg_temp is not on the path. A login with
--    no grants could create `pg_temp.text` or `pg_temp.uuid` as a domain whose CHECK calls its
--    own function, and a definer function naming `text` or casting `::uuid` ran that function
--    as the owner. With pg_temp named last, pg_catalog's types win. Invoker functions get the
--    same path, so one rule holds for every function of both schemas.
-- 2. Definer functions are executable only by the roles that need them (PUBLIC had ticket_access,
--    is_org_member and can_read_thread, and every generated capture function).
-- 3. A capture function refuses to run for any table but its own: attached to a copy of
--    ticket_notes in pg_temp it could otherwise forge events into any channel. Creating a trigger
--    also needs EXECUTE on its function, which only the owner keeps now.
-- 4. read_batch() refuses a request without a role (`null not in (...)` skipped the check, and
--    set_config('role', null) read as the caller's role, bypassing RLS for an owner login).
-- 5. AI status is written by a ticket's agents (through the server) or by a login granted
--    threadcast_ai (an AI worker), never by a customer.

-- Roles ---------------------------------------------------------------------------------------

-- AI workers log in with a role granted threadcast_ai; it may call set_thread_ai_status().
do $$
begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'threadcast_ai') then
        create role threadcast_ai nologin;
    end if;
end
$$;

-- search_path ---------------------------------------------------------------------------------

alter function realtime.wake() set search_path = pg_catalog, pg_temp;
alter function realtime.send(text, text, jsonb) set search_path = pg_catalog, pg_temp;
alter function realtime.tick() set search_path = pg_catalog, pg_temp;
alter function realtime.advance(bigint, bigint, integer) set search_path = pg_catalog, pg_temp;
alter function realtime.positions_after(bigint, bigint, bigint, text[], integer)
    set search_path = pg_catalog, pg_temp;
alter function realtime.head() set search_path = pg_catalog, pg_temp;
alter function realtime.cursor_state(bigint) set search_path = pg_catalog, pg_temp;
alter function realtime.prune(interval) set search_path = pg_catalog, pg_temp;
alter function realtime.summarize() set search_path = pg_catalog, pg_temp;
alter function realtime.authorize(text, text, text, text) set search_path = pg_catalog, pg_temp;
alter function realtime.enable(regclass, text, regprocedure) set search_path = pg_catalog, pg_temp;
alter function realtime.disable(regclass) set search_path = pg_catalog, pg_temp;
alter function realtime.register_channel(text, regprocedure) set search_path = pg_catalog, pg_temp;
alter function realtime.topic_sql(regclass, text[], text) set search_path = pg_catalog, pg_temp;
alter function public.is_org_member(uuid) set search_path = pg_catalog, pg_temp;
alter function public.ticket_access(uuid) set search_path = pg_catalog, pg_temp;
alter function public.can_read_thread(uuid) set search_path = pg_catalog, pg_temp;

-- Functions -----------------------------------------------------------------------------------

-- Creates (or replaces) the capture function of one table for one operation and returns its
-- name: statement-level for 'INSERT' and 'DELETE', reading the transition table once; row-level
-- for 'UPDATE', which logs three variants of each row (sql/004_update_visibility.sql). They run
-- as their owner without SET search_path (sql/008_capture_without_set.sql measured what the SET
-- costs a writer), so every name in them, types and operators included, is qualified and the
-- caller's path cannot reach them (tests/test_privileges.py tries). Each refuses any table but
-- its own, and only the owner may attach it.
create or replace function realtime.create_capture_function(tbl regclass, parts text[], operation text)
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

-- read_batch(requests): requests is a JSON array of {"role", "sub", "ids": [message ids]};
-- returns, per request (0-based position in the array), the ids that user may read, with the
-- payload text on the first row of each id and null after that.
create or replace function realtime.read_batch(requests jsonb)
returns table (request integer, id bigint, payload text)
language plpgsql
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
as $$
declare
    req record;
    visible bigint[];
    sent bigint[] := '{}';
    caller_role text := pg_catalog.current_setting('role');
    caller_claims text := pg_catalog.current_setting('request.jwt.claims', true);
    caller_sub text := pg_catalog.current_setting('request.jwt.claim.sub', true);
begin
    for req in
        select (e.ordinality - 1)::integer as n, e.value ->> 'role' as role,
               e.value ->> 'sub' as sub,
               array(select pg_catalog.jsonb_array_elements_text(e.value -> 'ids')::bigint) as ids
          from pg_catalog.jsonb_array_elements(requests) with ordinality as e(value, ordinality)
    loop
        -- `null not in (...)` is null, not true: a missing role must not read as the caller.
        if req.role is null or req.role not in ('anon', 'authenticated') then
            raise exception 'read_batch: request %: role must be anon or authenticated, got %',
                req.n, coalesce(pg_catalog.quote_literal(req.role), 'none')
                using errcode = '22023';
        end if;
        perform pg_catalog.set_config('role', req.role, true),
                pg_catalog.set_config('request.jwt.claims',
                    pg_catalog.jsonb_build_object('sub', req.sub, 'role', req.role)::text, true),
                pg_catalog.set_config('request.jwt.claim.sub', coalesce(req.sub, ''), true);

        -- Under the user's RLS: which of its ids may it see?
        select coalesce(pg_catalog.array_agg(m.id), '{}') into visible
          from realtime.messages m
         where m.id = any (req.ids);

        -- Ids already sent with an earlier identity: no payload again.
        return query
            select req.n, v, null::text
              from pg_catalog.unnest(visible) v
             where v = any (sent);
        -- Ids new in this batch: their payload, still read as this user.
        if not visible <@ sent then
            return query
                select req.n, m.id, m.payload::text
                  from realtime.messages m
                 where m.id = any (visible) and not m.id = any (sent);
            sent := sent || visible;
        end if;
    end loop;
    perform pg_catalog.set_config('role', caller_role, true),
            pg_catalog.set_config('request.jwt.claims', coalesce(caller_claims, ''), true),
            pg_catalog.set_config('request.jwt.claim.sub', coalesce(caller_sub, ''), true);
end;
$$;

-- Records a thread's AI processing status and appends an ai_status event
-- {"threadId","status","progress"?,"error"?} to the thread's ticket channel. Callers: an agent
-- of the thread's ticket (the server sets role authenticated and the agent's claims), or a
-- login granted threadcast_ai that has not switched role (an AI worker).
create or replace function public.set_thread_ai_status(
    thread_id uuid, status text, progress integer default null, error text default null
) returns public.thread_ai_status
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    thread public.ticket_threads;
    result public.thread_ai_status;
    -- An AI worker: a login granted threadcast_ai acting as itself. The server's requests
    -- switch role (SET LOCAL ROLE authenticated), so an end user never counts as one.
    worker boolean := pg_catalog.current_setting('role') = 'none'
                      and pg_catalog.pg_has_role(session_user, 'threadcast_ai', 'member');
begin
    if status is null or status not in ('started', 'processing', 'completed', 'failed') then
        raise exception 'invalid AI status %: expected started, processing, completed or failed',
            coalesce(quote_literal(status), 'null')
            using errcode = '22023';
    end if;
    if progress is not null and (progress < 0 or progress > 100) then
        raise exception 'invalid AI progress %: expected 0 to 100', progress using errcode = '22023';
    end if;
    if error is not null and status <> 'failed' then
        raise exception 'an AI error message is only allowed with status failed, not %', status
            using errcode = '22023';
    end if;
    -- SECURITY DEFINER bypasses RLS, so visibility is checked explicitly, as the caller.
    select * into thread from public.ticket_threads th where th.id = thread_id;
    if not found or not (worker or public.thread_visible(thread)) then
        raise exception 'thread % does not exist or is not visible to you', thread_id
            using errcode = '42501';
    end if;
    if not worker and public.ticket_access(thread.ticket_id) is distinct from 'agent' then
        raise exception 'only an agent of the ticket may set the AI status of thread %', thread_id
            using errcode = 'TC403', hint = 'AI workers log in with a role granted threadcast_ai';
    end if;

    insert into public.thread_ai_status as s (thread_id, ticket_id, status, progress, error)
    values (thread.id, thread.ticket_id, status, progress, error)
    on conflict on constraint thread_ai_status_pkey do update
        set status = excluded.status, progress = excluded.progress, error = excluded.error,
            updated_at = now()
    returning * into result;

    perform realtime.send(
        'ticket-threads:' || thread.ticket_id, 'ai_status',
        jsonb_strip_nulls(jsonb_build_object(
            'threadId', thread.id, 'status', status, 'progress', progress, 'error', error)));
    return result;
end
$$;

-- Regenerate every realtime table's capture functions with the table check and the revoke.
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

-- Grants --------------------------------------------------------------------------------------

-- The ticket rules' definer helpers run inside RLS policies, as the reading user.
revoke execute on function public.is_org_member(uuid), public.ticket_access(uuid),
                           public.can_read_thread(uuid) from public;
grant execute on function public.is_org_member(uuid), public.ticket_access(uuid),
                          public.can_read_thread(uuid) to anon, authenticated;
grant execute on function public.set_thread_ai_status(uuid, text, integer, text) to threadcast_ai;
-- Owner-only generators of trusted SQL (they were PUBLIC; a caller could not use them without
-- the owner's rights to create functions in realtime, but nobody else needs them).
revoke execute on function realtime.render_topic(text[], jsonb),
                           realtime.change_payload(text, text, text, jsonb, jsonb),
                           realtime.parse_topic_template(text),
                           realtime.wake_due(), realtime.wake_bucket() from public;
