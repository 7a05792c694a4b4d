-- Test data: migration 0010's downgrade as it shipped (sql/down/010_privileges.sql), which takes a
-- database from 0010 back to 0009. tests/test_migrations.py uses it to make a database at 0009
-- and shows that `threadcast migrate` brings it to the baselines. History; never edited.

revoke execute on function public.set_thread_ai_status(uuid, text, integer, text) from threadcast_ai;
grant execute on function public.is_org_member(uuid), public.ticket_access(uuid),
                          public.can_read_thread(uuid) to public;
grant execute on function realtime.render_topic(text[], jsonb),
                          realtime.change_payload(text, text, text, jsonb, jsonb),
                          realtime.parse_topic_template(text),
                          realtime.wake_due(), realtime.wake_bucket() to public;

alter function realtime.wake() set search_path = '';
alter function realtime.send(text, text, jsonb) set search_path = '';
alter function realtime.tick() set search_path = '';
alter function realtime.advance(bigint, bigint, integer) set search_path = '';
alter function realtime.positions_after(bigint, bigint, bigint, text[], integer) set search_path = '';
alter function realtime.head() set search_path = '';
alter function realtime.cursor_state(bigint) set search_path = '';
alter function realtime.prune(interval) set search_path = '';
alter function realtime.summarize() set search_path = '';
alter function realtime.authorize(text, text, text, text) set search_path = '';
alter function realtime.enable(regclass, text, regprocedure) set search_path = '';
alter function realtime.disable(regclass) set search_path = '';
alter function realtime.register_channel(text, regprocedure) set search_path = '';
alter function realtime.topic_sql(regclass, text[], text) set search_path = '';
alter function public.is_org_member(uuid) set search_path = '';
alter function public.ticket_access(uuid) set search_path = '';
alter function public.can_read_thread(uuid) set search_path = '';

create or replace function realtime.create_capture_function(tbl regclass, parts text[], operation text)
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

create or replace function realtime.read_batch(requests jsonb)
returns table (request integer, id bigint, payload text)
language plpgsql
set search_path = ''
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
        if req.role not in ('anon', 'authenticated') then
            raise exception 'read_batch: role must be anon or authenticated, got %', req.role
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


create or replace function public.set_thread_ai_status(
    thread_id uuid, status text, progress integer default null, error text default null
) returns public.thread_ai_status
language plpgsql security definer
set search_path = ''
as $$
declare
    thread public.ticket_threads;
    result public.thread_ai_status;
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
    if not found or not public.thread_visible(thread) then
        raise exception 'thread % does not exist or is not visible to you', thread_id
            using errcode = '42501';
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
