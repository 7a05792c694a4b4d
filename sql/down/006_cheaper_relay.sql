-- Reverts 006_cheaper_relay.sql.
alter function realtime.read_batch(jsonb) reset plan_cache_mode;
drop index realtime.messages_txid_brin;
create index messages_txid_brin on realtime.messages using brin (txid) with (autosummarize = on);
drop function if exists realtime.advance(bigint, bigint, integer);
drop function if exists realtime.authorize(text, text, text, text);
