-- ticket_app_0002: the live inbox. Tickets become realtime on channel org-tickets:<org uuid>,
-- for the organisation's agents only (inbox_visible()); every AI status is also sent there, with
-- its ticketId; tickets get a version, bumped by every update, so a client's cache patches
-- them by version as it does threads and notes. Idempotent: a fresh install applies
-- sql/ticket_app.sql and then this.

alter table public.tickets add column if not exists version integer not null default 1;

drop trigger if exists touch_updated_at on public.tickets;
drop function if exists public.touch_updated_at();
drop trigger if exists bump_version on public.tickets;
-- Tickets too: the inbox patches its cache by version and never rolls back.
create trigger bump_version before update on public.tickets
    for each row execute function public.bump_version();

grant update (subject, status, version) on public.tickets to authenticated;

-- Whether the caller sees the ticket in its organisation's inbox (channel org-tickets:<org>):
-- its agents only. Narrower than ticket_visible() on purpose: the inbox is the organisation's
-- view; a requester follows their own ticket through GET and its ticket-threads channel.
create or replace function public.inbox_visible(t public.tickets) returns boolean
language sql stable
as $$
    select public.is_org_member(t.org_id)
$$;

-- Records a thread's AI processing status and appends an ai_status event
-- {"threadId","status","progress"?,"error"?} to the thread's ticket channel, and the same with
-- "ticketId" to its organisation's inbox channel (org-tickets:<org>). Callers: an agent
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
    org uuid;
    ai_event jsonb;
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

    ai_event := jsonb_strip_nulls(jsonb_build_object(
        'threadId', thread.id, 'status', status, 'progress', progress, 'error', error));
    perform realtime.send('ticket-threads:' || thread.ticket_id, 'ai_status', ai_event);
    select t.org_id into org from public.tickets t where t.id = thread.ticket_id;
    perform realtime.send('org-tickets:' || org, 'ai_status',
                          ai_event || jsonb_build_object('ticketId', thread.ticket_id));
    return result;
end
$$;

revoke execute on function public.set_thread_ai_status(uuid, text, integer, text) from public;
grant execute on function public.set_thread_ai_status(uuid, text, integer, text) to authenticated;
grant execute on function public.set_thread_ai_status(uuid, text, integer, text) to threadcast_ai;

-- The inbox: ticket changes and the AI status of every thread, for the organisation's agents.
-- (enable() again replaces the previous configuration; register_channel() upserts.)
select realtime.enable('public.tickets', 'org-tickets:{org_id}',
                       'public.inbox_visible(public.tickets)');
select realtime.register_channel('org-tickets:', 'public.is_org_member(uuid)');

drop policy if exists "ai_status events" on realtime.messages;
-- An AI status on a ticket's channel is for whoever sees the thread; on an inbox channel, for
-- the ticket's agents only (a requester who sees the thread is not one of them).
create policy "ai_status events" on realtime.messages for select to authenticated
    using (event = 'ai_status'
           and case when topic like 'org-tickets:%'
                    then public.is_ticket_agent((payload ->> 'ticketId')::uuid)
                    else public.can_read_thread((payload ->> 'threadId')::uuid)
               end);
