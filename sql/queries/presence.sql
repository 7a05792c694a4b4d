-- Named queries of presence (server/threadcast/presence.py, presence_api.py): the functions
-- in sql/realtime.sql's Presence section, each as the server.

-- track --
-- Track or update a presence as the authenticated user: 'ok', 'forbidden', 'ref_taken', 'full'.
select realtime.track(%(role)s, %(sub)s, %(claims)s::jsonb, %(prefix)s, %(argument)s,
                      %(ref)s, %(connection)s, %(state)s::jsonb,
                      make_interval(secs => %(ttl)s), %(max_presences)s) as outcome

-- untrack --
-- End the caller's presence; whether there was one.
select realtime.untrack(%(sub)s, %(topic)s, %(ref)s) as ended

-- end_connections --
-- End the presences of streams that closed here.
select realtime.presence_end_connections(%(connections)s::uuid[]) as channels

-- heartbeat --
-- Renew the presences of this replica's open streams; end every expired one.
select realtime.presence_heartbeat(%(connections)s::uuid[], make_interval(secs => %(ttl)s))
       as channels

-- read_presence --
-- What each of many users may see of some channels' presences (as that user).
select request, topic, key, ref, state from realtime.read_presence(%(requests)s::jsonb)
