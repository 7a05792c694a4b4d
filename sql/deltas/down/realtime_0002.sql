-- Reverses realtime_0002: positions_after() as one statement again, as the baseline had it.

create or replace function realtime.positions_after(
    after_tick bigint, after_id bigint, upto_tick bigint,
    topics text[] default null, max_events integer default 10000
) returns table (tick_id bigint, id bigint, topic text, event text)
language sql stable security definer
set search_path = pg_catalog, pg_temp
set enable_seqscan = off
as $$
    select t.tick_id, m.id, m.topic, m.event
      from realtime.ticks t
     cross join lateral unnest(t.message_ids) as u(id)
      join realtime.messages m on m.id = u.id
     where t.tick_id >= after_tick
       and t.tick_id <= upto_tick
       and (t.tick_id > after_tick or u.id > after_id)
       and (topics is null or m.topic = any (topics))
     order by t.tick_id, u.id
     limit max_events
$$;

