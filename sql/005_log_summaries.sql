-- threadcast realtime engine, part 5: keep realtime.tick() fast as the log grows.
--
-- tick() finds new events through the BRIN index on txid. Page ranges not yet summarized
-- always match, so every tick rechecked every row written since the last summarization, and
-- autosummarize only runs when autovacuum visits the table (up to a minute later). Measured by
-- benchmarks/sql_costs.py: a tick took 4.3 ms after 20,000 unsummarized rows, 0.8 ms once
-- summarized. The relay calls realtime.summarize() about once a second, so the unsummarized
-- tail stays a few pages long.

-- Summarizes the log's new BRIN page ranges; returns how many. Gives up at once (returning
-- null) when VACUUM or another replica holds the lock it needs, since the next call will do.
create function realtime.summarize() returns integer
language plpgsql security definer
set search_path = ''
set lock_timeout = '50ms'
as $$
begin
    return pg_catalog.brin_summarize_new_values('realtime.messages_txid_brin'::regclass);
exception
    when lock_not_available then
        return null;
end
$$;

revoke execute on function realtime.summarize() from public;
grant execute on function realtime.summarize() to threadcast;
