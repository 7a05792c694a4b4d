-- Undoes realtime_0005: no presence; register_channel() takes a prefix and an authorize
-- function only.

drop function if exists realtime.read_presence(jsonb);
drop function if exists realtime.presence_heartbeat(uuid[], interval);
drop function if exists realtime.presence_end_connections(uuid[]);
drop function if exists realtime.presence_ended(text[]);
drop function if exists realtime.untrack(text, text, uuid);
drop function if exists realtime.track(text, text, jsonb, text, text, uuid, uuid, jsonb, interval, integer);
drop function if exists realtime.presence_changed(text);
drop table if exists realtime.presences;
drop function if exists realtime.register_channel(text, regprocedure, regprocedure);
-- Registers a channel prefix ('ticket-threads:') and the function, of one argument, that
-- decides as the subscribing user whether they may subscribe to prefix || argument.
create or replace function realtime.register_channel(prefix text, authorize regprocedure) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    fn_args oidvector;
    fn_returns oid;
begin
    select p.proargtypes, p.prorettype into fn_args, fn_returns
      from pg_catalog.pg_proc p where p.oid = authorize;
    if pg_catalog.array_length(fn_args::oid[], 1) is distinct from 1
            or fn_returns <> 'boolean'::regtype then
        raise exception 'realtime.register_channel: % must take one argument and return boolean',
            authorize
            using errcode = '42883';
    end if;
    insert into realtime.channels (prefix, authorize_function, argument_type)
    values (prefix, authorize::regproc::text, fn_args[0]::regtype::text)
    on conflict on constraint channels_pkey do update
        set authorize_function = excluded.authorize_function,
            argument_type = excluded.argument_type;
end
$$;

revoke execute on function realtime.register_channel(text, regprocedure) from public;
alter table realtime.channels drop column if exists presence_function;
