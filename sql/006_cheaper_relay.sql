-- threadcast realtime engine, part 6: a cheaper relay. Fewer round trips and less planning
-- per dispatch cycle and per connect (figures: benchmarks/sql_costs.py and fanout.py).

-- 1. read_batch() plans its per-user read once.
--
-- read_batch() runs the same RLS-filtered query once per identity, with a different id array
-- each time. PL/pgSQL caches the plan, but PostgreSQL's plan cache compares the generic plan's
-- estimate (an array of unknown length) with the custom plans' (an array of one or a few ids),
-- finds the generic one dearer, and so re-plans the query, policies and all, for every
-- identity. Planning was most of the cost: 0.19 ms per identity for one event before, 0.045
-- ms after, on a quiet machine. The generic plan is right whatever the array holds: a
-- primary-key lookup per id.
alter function realtime.read_batch(jsonb) set plan_cache_mode = force_generic_plan;

-- 2. tick() rechecks 8 pages of the log, not 128.
--
-- tick() finds new events with a BRIN index on txid. BRIN returns whole page ranges and the
-- newest range always matches, so every tick rechecked every row of the last 128 pages (about
-- 2,000 rows) however few were new. Ranges are now 8 pages (one index entry per 64 kB of log).
-- Autosummarize is off: with small ranges it asks autovacuum for a summarization every 8
-- pages, which overflows its work-item queue and fills the server log with "request for BRIN
-- range summarization ... was not recorded". The relay summarizes new ranges about once a
-- second (realtime.summarize(), part 5), and VACUUM does too. Rebuilding the index blocks
-- writes to the log for the length of one sequential scan of it.
drop index realtime.messages_txid_brin;
create index messages_txid_brin on realtime.messages
    using brin (txid) with (autosummarize = off, pages_per_range = 8);

-- 3. One round trip per dispatch cycle instead of two.
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
set search_path = ''
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

revoke execute on function realtime.advance(bigint, bigint, integer) from public;
grant execute on function realtime.advance(bigint, bigint, integer) to threadcast;

-- 4. One round trip to authorize a subscription.
--
-- The relay checked a subscription as the user in a transaction of four statements (begin,
-- set role and claims, call the channel's function, commit): four round trips per connect,
-- which bounded a storm of reconnects at about 240 connects per second. authorize() does the
-- same in one statement: it switches to the user's role and claims (SET LOCAL, so the
-- statement's own transaction ends them, even on an error), calls the channel's authorize
-- function and returns its answer, null counting as no.
create function realtime.authorize(
    user_role text, user_sub text, channel_prefix text, channel_argument text
) returns boolean
language plpgsql
set search_path = ''
as $$
declare
    channel realtime.channels;
    allowed boolean;
    caller_role text := pg_catalog.current_setting('role');
    caller_claims text := pg_catalog.current_setting('request.jwt.claims', true);
    caller_sub text := pg_catalog.current_setting('request.jwt.claim.sub', true);
begin
    if user_role is null or user_role not in ('anon', 'authenticated') then
        raise exception 'realtime.authorize: role must be anon or authenticated, got %', user_role
            using errcode = '22023';
    end if;
    select * into channel from realtime.channels c where c.prefix = channel_prefix;
    if not found then
        raise exception 'realtime.authorize: no channel prefix %', channel_prefix
            using errcode = '22023';
    end if;
    perform pg_catalog.set_config('role', user_role, true),
            pg_catalog.set_config('request.jwt.claims',
                pg_catalog.jsonb_build_object('sub', user_sub, 'role', user_role)::text, true),
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

revoke execute on function realtime.authorize(text, text, text, text) from public;
grant execute on function realtime.authorize(text, text, text, text) to threadcast;
