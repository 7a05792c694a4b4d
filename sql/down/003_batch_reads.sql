-- Reverts 003_batch_reads.sql.
drop function if exists realtime.read_batch(jsonb);

-- The previous realtime.uid().
-- The caller's user id (the `sub` claim), or null when there is none or it is not a uuid.
-- The server also sets request.jwt.claim.sub (as PostgREST does), which spares parsing the
-- claims document on every call: RLS calls this once per event row per reader.
create or replace function realtime.uid() returns uuid
language sql stable parallel safe
as $$
    select case
        when sub ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' then sub::uuid
    end
    from coalesce(
        nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
        realtime.claims() ->> 'sub'
    ) as sub
$$;

