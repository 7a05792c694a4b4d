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

-- 2. The relay's hot queries never scan the whole log.
--
-- A plan made while the log was small (a new install, or before autovacuum first analyzes it)
-- is a sequential scan, and a cached plan is kept until the next ANALYZE: measured with a
-- writer at 500 notes/s, tick()'s scan took 3.8 ms at 5,000 rows and kept growing with the log
-- (dispatch cycles 2.8 ms -> 12 ms in a minute), because autovacuum had not yet analyzed it.
-- These functions only ever want their index (the BRIN on txid, the primary keys of the log
-- and of ticks), so they plan without sequential scans whatever the statistics say.
--
-- tick()'s scan is also split in two: one condition ORing "started after the previous tick"
-- with "in progress at the previous tick" let a plan made without statistics use only
-- "txid < current xmax" as its index condition, which every page range of the log matches.
alter function realtime.read_batch(jsonb) set enable_seqscan = off;
alter function realtime.positions_after(bigint, bigint, bigint, text[], integer)
    set enable_seqscan = off;

create or replace function realtime.tick() returns bigint
language plpgsql security definer
set search_path = ''
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

-- 3. tick() rechecks 8 pages of the log, not 128.
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
set search_path = ''
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

revoke execute on function realtime.advance(bigint, bigint, integer) from public;
grant execute on function realtime.advance(bigint, bigint, integer) to threadcast;

-- 5. One round trip to authorize a subscription.
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
