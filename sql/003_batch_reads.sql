-- threadcast realtime engine, part 3: cheaper reads as users.
--
-- 1. realtime.uid() becomes a single expression, so the planner inlines it. RLS calls it for
--    every event row and every reader; as a SQL function with a FROM clause it could not be
--    inlined and cost ~100 µs per query that called it (its body was planned anew for each
--    query), which made the log's RLS cost ~1 ms per reader per batch.
-- 2. realtime.read_batch() reads one batch for many users in one statement.

-- The caller's user id (the `sub` claim), or null when there is none or it is not a uuid.
-- The server also sets request.jwt.claim.sub (as PostgREST does), which spares parsing the
-- claims document. One expression, no FROM: keep it inlinable (the sub is computed twice,
-- which costs less than a subquery).
create or replace function realtime.uid() returns uuid
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

--
-- The relay reads every batch once per identity with open streams, as that user, so that
-- row-level security decides what each sees. Sent as statements, that costs the server three
-- round trips of Python per user per batch, which bounds fan-out at about a thousand users
-- per batch window. This function walks the identities inside the database instead: for each
-- it switches role and claims (SET LOCAL) and reads the requested ids under RLS; at the end it
-- puts the caller's role and claims back (on an error, the transaction's rollback does). Each payload crosses the wire once per batch, with the
-- first identity that may see it.

-- read_batch(requests): requests is a JSON array of {"role", "sub", "ids": [message ids]};
-- returns, per request (0-based position in the array), the ids that user may read, with the
-- payload text on the first row of each id and null after that.
create function realtime.read_batch(requests jsonb)
returns table (request integer, id bigint, payload text)
language plpgsql
set search_path = ''
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

revoke execute on function realtime.read_batch(jsonb) from public;
grant execute on function realtime.read_batch(jsonb) to threadcast;
