-- realtime_0005: presence. Who is on a channel now, shared by every replica through an
-- unlogged table (no WAL) and NOTIFY on threadcast_presence_v1, never in the durable log:
-- realtime.track() / untrack() as the user the server authenticated, ended with the stream
-- connection (presence_end_connections()) or, when its replica dies, at its expiry
-- (presence_heartbeat()); realtime.read_presence() reads it as each viewer, under the
-- channel's authorize function and its optional presence rule (register_channel()'s new
-- third argument). Idempotent: a fresh install applies sql/realtime.sql, which has all of
-- this, and then this file.

alter table realtime.channels add column if not exists presence_function text;

-- Who is on a channel now: one row per tracked presence, keyed by the ref its client chose (one
-- per tab and channel), living with the stream connection it names. Ephemeral: unlogged (no
-- WAL, emptied by a crash; clients track again when they reconnect) and never in the log. The
-- replica holding the connection pushes expires_at forward (presence_heartbeat()); a presence
-- nobody holds any more, its replica dead, is swept when it expires. Only the server reads it:
-- users see presences through read_presence(), as the channel's rules allow.
create unlogged table if not exists realtime.presences (
    topic text not null,
    ref uuid not null,
    key text not null,  -- the tracking user's sub
    connection uuid not null,
    state jsonb not null check (pg_catalog.jsonb_typeof(state) = 'object'),
    updated_at timestamptz not null default pg_catalog.now(),
    expires_at timestamptz not null,
    primary key (topic, ref)
);
create index if not exists presences_connection on realtime.presences (connection);
create index if not exists presences_expires_at on realtime.presences (expires_at);

drop function if exists realtime.register_channel(text, regprocedure);
-- Registers a channel prefix ('ticket-threads:') and the function, of one argument, that
-- decides as the subscribing user whether they may subscribe to prefix || argument. Optionally
-- a presence rule: a function of (that argument, a presence's state jsonb) returning boolean
-- that decides, as the viewing user, whether they see that presence (without one, whoever
-- may subscribe sees every presence on the channel).
create or replace function realtime.register_channel(
    prefix text, authorize regprocedure, presence_visible regprocedure default null
) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    fn_args oidvector;
    fn_returns oid;
    rule_args oidvector;
    rule_returns oid;
begin
    select p.proargtypes, p.prorettype into fn_args, fn_returns
      from pg_catalog.pg_proc p where p.oid = authorize;
    if pg_catalog.array_length(fn_args::oid[], 1) is distinct from 1
            or fn_returns <> 'boolean'::regtype then
        raise exception 'realtime.register_channel: % must take one argument and return boolean',
            authorize
            using errcode = '42883';
    end if;
    if presence_visible is not null then
        select p.proargtypes, p.prorettype into rule_args, rule_returns
          from pg_catalog.pg_proc p where p.oid = presence_visible;
        if pg_catalog.array_length(rule_args::oid[], 1) is distinct from 2
                or rule_args[0] <> fn_args[0] or rule_args[1] <> 'jsonb'::regtype
                or rule_returns <> 'boolean'::regtype then
            raise exception 'realtime.register_channel: % must take (%, jsonb) and return boolean',
                presence_visible, fn_args[0]::regtype
                using errcode = '42883';
        end if;
    end if;
    insert into realtime.channels (prefix, authorize_function, argument_type, presence_function)
    values (prefix, authorize::regproc::text, fn_args[0]::regtype::text,
            presence_visible::regproc::text)
    on conflict on constraint channels_pkey do update
        set authorize_function = excluded.authorize_function,
            argument_type = excluded.argument_type,
            presence_function = excluded.presence_function;
end
$$;

-- Presence ------------------------------------------------------------------------------------

-- Tells every replica that a channel's presence changed. The payload is only the topic: each
-- replica reads the state itself, as each of its viewers (read_presence()). NOTIFY folds
-- identical payloads of one transaction into one.
create or replace function realtime.presence_changed(channel_topic text) returns void
language sql
set search_path = pg_catalog, pg_temp
as $$
    select pg_catalog.pg_notify('threadcast_presence_v1', channel_topic)
$$;

-- Tracks, or updates, a user's presence on a channel, living with stream_connection, if the
-- channel's authorize function admits the user (as for a subscription). Returns 'ok' or why
-- not: 'forbidden' (may not read the channel), 'ref_taken' (the ref is another user's
-- presence) or 'full' (the channel already holds max_presences presences). An update that
-- changes nothing but the expiry notifies nobody.
create or replace function realtime.track(
    user_role text, user_sub text, user_claims jsonb, channel_prefix text,
    channel_argument text, presence_ref uuid, stream_connection uuid, presence_state jsonb,
    ttl interval, max_presences integer
) returns text
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    channel_topic text := channel_prefix || channel_argument;
    current realtime.presences;
begin
    if pg_catalog.jsonb_typeof(presence_state) is distinct from 'object' then
        raise exception 'realtime.track: a presence''s state must be a JSON object'
            using errcode = '22023';
    end if;
    if not realtime.authorize(user_role, user_sub, channel_prefix, channel_argument, user_claims)
    then
        return 'forbidden';
    end if;
    -- One tracker of a channel at a time, so that the cap holds under concurrent tracks.
    perform pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtextextended('realtime.presences ' || channel_topic, 0));
    select * into current from realtime.presences p
     where p.topic = channel_topic and p.ref = presence_ref;
    if found and current.key <> user_sub then
        return 'ref_taken';
    end if;
    if found and current.state = presence_state and current.connection = stream_connection then
        update realtime.presences p set expires_at = pg_catalog.now() + ttl
         where p.topic = channel_topic and p.ref = presence_ref;
        return 'ok';
    end if;
    if not found
            and (select pg_catalog.count(*) from realtime.presences p where p.topic = channel_topic)
                >= max_presences then
        return 'full';
    end if;
    insert into realtime.presences (topic, ref, key, connection, state, expires_at)
    values (channel_topic, presence_ref, user_sub, stream_connection, presence_state,
            pg_catalog.now() + ttl)
    on conflict (topic, ref) do update
        set connection = excluded.connection, state = excluded.state,
            updated_at = excluded.updated_at, expires_at = excluded.expires_at;
    perform realtime.presence_changed(channel_topic);
    return 'ok';
end
$$;

-- Ends a user's presence on a channel; whether there was one.
create or replace function realtime.untrack(user_sub text, channel_topic text, presence_ref uuid)
returns boolean
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    delete from realtime.presences p
     where p.topic = channel_topic and p.ref = presence_ref and p.key = user_sub;
    if not found then
        return false;
    end if;
    perform realtime.presence_changed(channel_topic);
    return true;
end
$$;

-- Tells every replica about each of these channels once (presences there ended); returns how
-- many channels that is.
create or replace function realtime.presence_ended(channel_topics text[]) returns integer
language sql
set search_path = pg_catalog, pg_temp
as $$
    select pg_catalog.count(realtime.presence_changed(t))::integer
      from (select distinct t from pg_catalog.unnest(channel_topics) t) as changed(t)
$$;

-- Ends every presence living with these stream connections (they closed); returns how many
-- channels that changed.
create or replace function realtime.presence_end_connections(connections uuid[]) returns integer
language sql
set search_path = pg_catalog, pg_temp
as $$
    with gone as (
        delete from realtime.presences p where p.connection = any (connections)
        returning p.topic
    )
    select realtime.presence_ended(array(select gone.topic from gone))
$$;

-- A replica's heartbeat: the presences of its open connections live ttl longer, and every
-- presence past its expiry (its replica died, or its connection is nowhere) ends. Returns how
-- many channels that changed.
create or replace function realtime.presence_heartbeat(connections uuid[], ttl interval) returns integer
language sql
set search_path = pg_catalog, pg_temp
as $$
    update realtime.presences p set expires_at = pg_catalog.now() + ttl
     where p.connection = any (connections);
    with gone as (
        delete from realtime.presences p where p.expires_at < pg_catalog.now()
        returning p.topic
    )
    select realtime.presence_ended(array(select gone.topic from gone));
$$;

-- What each of many users may see of some channels' presences, in one statement: requests is
-- a JSON array of {"role", "sub", "claims"?, "topics": [...]}. Per request (0-based) and
-- topic, as that user: nothing unless the channel's authorize function admits them (checked
-- again on every read, so a revoked member stops seeing at once), and then every presence, or
-- those the channel's presence rule admits. The rows and channels are read first, as the
-- server: users have no access to them.
create or replace function realtime.read_presence(requests jsonb)
returns table (request integer, topic text, key text, ref uuid, state text)
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    req record;
    channel_topic text;
    channel realtime.channels;
    allowed boolean;
    present realtime.presences[];
    channels jsonb := '{}';
    caller_role text := pg_catalog.current_setting('role');
    caller_claims text := pg_catalog.current_setting('request.jwt.claims', true);
    caller_sub text := pg_catalog.current_setting('request.jwt.claim.sub', true);
begin
    select coalesce(pg_catalog.array_agg(p), '{}') into present
      from realtime.presences p
     where p.topic in (select pg_catalog.jsonb_array_elements_text(r -> 'topics')
                         from pg_catalog.jsonb_array_elements(requests) r);
    for channel in
        select c.* from realtime.channels c
         where c.prefix in (select pg_catalog.split_part(t, ':', 1) || ':'
                              from pg_catalog.jsonb_array_elements(requests) r,
                                   pg_catalog.jsonb_array_elements_text(r -> 'topics') t)
    loop
        channels := channels || pg_catalog.jsonb_build_object(channel.prefix,
            pg_catalog.to_jsonb(channel));
    end loop;
    for req in
        select (e.ordinality - 1)::integer as n, e.value ->> 'role' as role,
               e.value ->> 'sub' as sub, e.value -> 'claims' as claims,
               e.value -> 'topics' as topics
          from pg_catalog.jsonb_array_elements(requests) with ordinality as e(value, ordinality)
    loop
        perform realtime.check_reader_role(req.role, 'read_presence: request ' || req.n);
        perform pg_catalog.set_config('role', req.role, true),
                pg_catalog.set_config('request.jwt.claims',
                    realtime.reader_claims(req.role, req.sub, req.claims), true),
                pg_catalog.set_config('request.jwt.claim.sub', coalesce(req.sub, ''), true);
        for channel_topic in select pg_catalog.jsonb_array_elements_text(req.topics) loop
            channel := pg_catalog.jsonb_populate_record(null::realtime.channels,
                channels -> (pg_catalog.split_part(channel_topic, ':', 1) || ':'));
            if channel.prefix is null then
                continue;  -- no such channel (any more): nobody sees anything on it
            end if;
            -- The names come from realtime.channels, which only the database owner writes
            -- (register_channel() checked the functions' signatures).
            execute pg_catalog.format('select %s($1::%s)',
                                      channel.authorize_function, channel.argument_type)
                into allowed
                using pg_catalog.substr(channel_topic, pg_catalog.length(channel.prefix) + 1);
            if not coalesce(allowed, false) then
                continue;
            end if;
            if channel.presence_function is null then
                return query
                    select req.n, p.topic, p.key, p.ref, p.state::text
                      from pg_catalog.unnest(present) p
                     where p.topic = channel_topic;
            else
                return query execute pg_catalog.format(
                    'select $1, p.topic, p.key, p.ref, p.state::text'
                    '  from pg_catalog.unnest($2) p'
                    ' where p.topic = $3 and %s($4::%s, p.state) is true',
                    channel.presence_function, channel.argument_type)
                    using req.n, present, channel_topic,
                          pg_catalog.substr(channel_topic, pg_catalog.length(channel.prefix) + 1);
            end if;
        end loop;
    end loop;
    perform pg_catalog.set_config('role', caller_role, true),
            pg_catalog.set_config('request.jwt.claims', coalesce(caller_claims, ''), true),
            pg_catalog.set_config('request.jwt.claim.sub', coalesce(caller_sub, ''), true);
end
$$;

revoke execute on function realtime.register_channel(text, regprocedure, regprocedure) from public;
-- Presence is the server's: it tracks for users it authenticated and reads as each viewer.
revoke all on realtime.presences from public;
grant select, insert, update, delete on realtime.presences to threadcast;
revoke execute on function
    realtime.presence_changed(text),
    realtime.track(text, text, jsonb, text, text, uuid, uuid, jsonb, interval, integer),
    realtime.untrack(text, text, uuid),
    realtime.presence_ended(text[]),
    realtime.presence_end_connections(uuid[]),
    realtime.presence_heartbeat(uuid[], interval),
    realtime.read_presence(jsonb)
    from public;
grant execute on function
    realtime.presence_changed(text),
    realtime.track(text, text, jsonb, text, text, uuid, uuid, jsonb, interval, integer),
    realtime.untrack(text, text, uuid),
    realtime.presence_ended(text[]),
    realtime.presence_end_connections(uuid[]),
    realtime.presence_heartbeat(uuid[], interval),
    realtime.read_presence(jsonb)
    to threadcast;
