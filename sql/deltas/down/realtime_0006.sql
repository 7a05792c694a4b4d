-- Undoes realtime_0006: read_batch() reads the visible ids, then their payloads.

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
