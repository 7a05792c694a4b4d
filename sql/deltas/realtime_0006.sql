-- realtime_0006: read_batch() runs without JIT. Its enable_seqscan = off holds for the
-- policies' subqueries and derived rules planned inside it too; up to PostgreSQL 17 a
-- sequential scan with no alternative still gets 1e10 added to its cost, so a rule's query
-- passed jit_above_cost and was JIT-compiled (inlined, optimized) on every call, once per
-- event, reader and query: about 0.12 s each on PostgreSQL 15 for the chat's policy
-- `channel_id in (select id from channels)`, derived or written by hand.
-- Idempotent: a fresh install applies sql/realtime.sql, which has it, and then this file.

alter function realtime.read_batch(jsonb) set jit = off;
