-- Reverses ticket_app_0002: no inbox channel, tickets not realtime and without a version, AI
-- status sent to the ticket's channel only.

drop policy if exists "ai_status events" on realtime.messages;
create policy "ai_status events" on realtime.messages for select to authenticated
    using (event = 'ai_status' and public.can_read_thread((payload ->> 'threadId')::uuid));

delete from realtime.channels where prefix = 'org-tickets:';
select realtime.disable('public.tickets');
drop function if exists public.inbox_visible(public.tickets);

-- Records a thread's AI processing status and appends an ai_status event
-- {"threadId","status","progress"?,"error"?} to the thread's ticket channel. Callers: an agent
-- of the thread's ticket (the server sets role authenticated and the agent's claims), or a
-- login granted threadcast_ai that has not switched role (an AI worker).
create or replace function public.set_thread_ai_status(
    thread_id uuid, status text, progress integer default null, error text default null
) returns public.thread_ai_status
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    thread public.ticket_threads;
    result public.thread_ai_status;
    -- An AI worker: a login granted threadcast_ai acting as itself. The server's requests
    -- switch role (SET LOCAL ROLE authenticated), so an end user never counts as one.
    worker boolean := pg_catalog.current_setting('role') = 'none'
                      and pg_catalog.pg_has_role(session_user, 'threadcast_ai', 'member');
begin
    if status is null or status not in ('started', 'processing', 'completed', 'failed') then
        raise exception 'invalid AI status %: expected started, processing, completed or failed',
            coalesce(quote_literal(status), 'null')
            using errcode = '22023';
    end if;
    if progress is not null and (progress < 0 or progress > 100) then
        raise exception 'invalid AI progress %: expected 0 to 100', progress using errcode = '22023';
    end if;
    if error is not null and status <> 'failed' then
        raise exception 'an AI error message is only allowed with status failed, not %', status
            using errcode = '22023';
    end if;
    -- SECURITY DEFINER bypasses RLS, so visibility is checked explicitly, as the caller.
    select * into thread from public.ticket_threads th where th.id = thread_id;
    if not found or not (worker or public.thread_visible(thread)) then
        raise exception 'thread % does not exist or is not visible to you', thread_id
            using errcode = '42501';
    end if;
    if not worker and public.ticket_access(thread.ticket_id) is distinct from 'agent' then
        raise exception 'only an agent of the ticket may set the AI status of thread %', thread_id
            using errcode = 'TC403', hint = 'AI workers log in with a role granted threadcast_ai';
    end if;

    insert into public.thread_ai_status as s (thread_id, ticket_id, status, progress, error)
    values (thread.id, thread.ticket_id, status, progress, error)
    on conflict on constraint thread_ai_status_pkey do update
        set status = excluded.status, progress = excluded.progress, error = excluded.error,
            updated_at = now()
    returning * into result;

    perform realtime.send(
        'ticket-threads:' || thread.ticket_id, 'ai_status',
        jsonb_strip_nulls(jsonb_build_object(
            'threadId', thread.id, 'status', status, 'progress', progress, 'error', error)));
    return result;
end
$$;

revoke update (version) on public.tickets from authenticated;
drop trigger if exists bump_version on public.tickets;

-- Keeps tickets.updated_at current.
create or replace function public.touch_updated_at() returns trigger
language plpgsql
as $$
begin
    new.updated_at := now();
    return new;
end
$$;

drop trigger if exists touch_updated_at on public.tickets;
create trigger touch_updated_at before update on public.tickets
    for each row execute function public.touch_updated_at();

alter table public.tickets drop column if exists version;
