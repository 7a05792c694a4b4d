-- Named queries of the SSE relay (server/threadcast/hub.py, subscriptions.py, listener.py).
-- Positions are read as the server; payloads only ever as the subscribing user, under RLS.

-- catalog_tables --
-- Realtime-enabled tables with their topic templates and column types.
select t.schema_name, t.table_name, t.topic_template,
       coalesce(jsonb_object_agg(a.attname, format_type(a.atttypid, a.atttypmod))
                filter (where a.attname is not null), '{}') as columns
  from realtime.tables t
  join pg_catalog.pg_namespace n on n.nspname = t.schema_name
  join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = t.table_name
  left join pg_catalog.pg_attribute a
         on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
 group by t.schema_name, t.table_name, t.topic_template

-- catalog_channels --
-- Channel prefixes and the function deciding who may subscribe.
select prefix, authorize_function, argument_type from realtime.channels

-- tick --
-- Records newly visible events as a tick; returns the newest tick id.
select realtime.tick() as tick_id

-- advance --
-- Ticks, then the positions after the dispatcher's up to the new head (one round trip).
select head_tick, tick_id, id, topic, event
  from realtime.advance(%(after_tick)s, %(after_id)s, %(limit)s)

-- head --
-- The newest position.
select tick_id, id from realtime.head()

-- cursor_state --
-- 'ok', 'expired' or 'unknown' for a client's cursor tick.
select realtime.cursor_state(%(tick)s) as state

-- positions_after --
-- Positions after a cursor up to a tick, optionally for some topics only, with each change's
-- schema, table and eventType (bindings match on them without parsing the payload).
select tick_id, id, topic, event, change_schema, change_table, change_type
  from realtime.change_positions_after(%(after_tick)s, %(after_id)s, %(upto_tick)s, %(topics)s, %(limit)s)

-- authorize --
-- Whether a user may subscribe to a channel: its authorize function, run as the user
-- (realtime.authorize in sql/realtime.sql).
select realtime.authorize(%(role)s, %(sub)s, %(prefix)s, %(argument)s, %(claims)s::jsonb) as allowed

-- read_as_user --
-- The events among these ids that the current user may see (run as the user: RLS filters).
select id, payload::text as payload from realtime.messages where id = any(%(ids)s)

-- read_batch --
-- What each of many users may see among its ids, each read under its own RLS, in one statement
-- (realtime.read_batch in sql/realtime.sql).
select request, id, payload from realtime.read_batch(%(requests)s::jsonb)

-- summarize --
-- Summarizes new BRIN ranges of the log, so tick() stays fast.
select realtime.summarize() as ranges

-- prune --
-- Retention: deletes events older than the window.
select realtime.prune(make_interval(secs => %(seconds)s)) as deleted
