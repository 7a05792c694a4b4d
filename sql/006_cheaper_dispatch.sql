-- threadcast realtime engine, part 6: a cheaper dispatch cycle. Every batch the relay calls
-- tick() once and read_batch() once; both costs grew with load (benchmarks/sql_costs.py).

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
-- tick() finds new events with a BRIN index on txid; BRIN returns whole page ranges, and the
-- newest range always matches, so every tick rechecked every row of the last 128 pages (about
-- 2,000 rows) however few were new: 1.2 to 3.9 ms per tick as the log grew, against 0.4 ms
-- with 8-page ranges. The index is still tiny (one entry per 64 kB of log). Rebuilding it
-- blocks writes to the log for the length of one sequential scan of it.
drop index realtime.messages_txid_brin;
create index messages_txid_brin on realtime.messages
    using brin (txid) with (autosummarize = on, pages_per_range = 8);

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
