-- realtime_0002: positions_after() pages through a large tick in time proportional to the page,
-- not to the tick. The single statement it replaces joined and sorted the whole tick the cursor
-- was in (an incremental sort needs every row of a group), so with 10,000-event ticks a
-- 1,000-event page took up to 240 ms and a client far behind replayed at 10,000 events/s.

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
