-- Reverts 005_log_summaries.sql.
drop function if exists realtime.summarize();
