-- Reverts 006_cheaper_relay.sql.
alter function realtime.read_batch(jsonb) reset plan_cache_mode;
alter function realtime.read_batch(jsonb) reset enable_seqscan;
alter function realtime.positions_after(bigint, bigint, bigint, text[], integer) reset enable_seqscan;
drop index realtime.messages_txid_brin;
create index messages_txid_brin on realtime.messages using brin (txid) with (autosummarize = on);
drop function if exists realtime.advance(bigint, bigint, integer);
drop function if exists realtime.authorize(text, text, text, text);

-- tick() as 001_realtime_engine.sql made it.
create or replace function realtime.tick() returns bigint
language plpgsql security definer
set search_path = ''
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

    -- Visible now but not at the previous tick: started at or after its xmax, or in
    -- progress then (PgQ's batch rule). Both arms are BRIN range scans on txid.
    select array_agg(m.id order by m.id) into new_ids
      from realtime.messages m
     where (m.txid >= pg_catalog.pg_snapshot_xmax(previous.snapshot)::text::bigint
            or m.txid = any (array(
                select x::text::bigint from pg_catalog.pg_snapshot_xip(previous.snapshot) as x)))
       and m.txid < pg_catalog.pg_snapshot_xmax(current_snapshot)::text::bigint
       and pg_catalog.pg_visible_in_snapshot(m.txid::text::xid8, current_snapshot);

    if new_ids is null then
        return previous.tick_id;
    end if;
    insert into realtime.ticks (tick_id, snapshot, message_ids)
    values (previous.tick_id + 1, current_snapshot, new_ids);
    return previous.tick_id + 1;
end
$$;
