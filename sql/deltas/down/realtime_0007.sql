-- Undoes realtime_0007: read_batch() reads the visible ids, then their payloads;
-- positions_after() pages through the ticks itself, and change_positions_after() is gone.

create or replace function realtime.positions_after(
    after_tick bigint, after_id bigint, upto_tick bigint,
    topics text[] default null, max_events integer default 10000
) returns table (tick_id bigint, id bigint, topic text, event text)
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
                select tick.tick_id, m.id, m.topic, m.event
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

drop function if exists realtime.change_positions_after(bigint, bigint, bigint, text[], integer);

create or replace function realtime.read_batch(requests jsonb)
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
