-- Uninstalls sql/ticket_app.sql (the ticket_app track's baseline downgrade): removes the ticket
-- application, its realtime hooks, its grants and, where no other database still uses it, its
-- role threadcast_ai. The engine stays.

drop policy if exists "ai_status events" on realtime.messages;
delete from realtime.channels where prefix = 'ticket-threads:';
delete from realtime.channels where prefix = 'org-tickets:';
select realtime.disable('public.tickets');
select realtime.disable('public.ticket_notes');
select realtime.disable('public.ticket_threads');

-- Policies call the visibility functions, and the functions take the tables' row types, so
-- policies go first, then functions, then tables.
drop policy if exists organizations_read on public.organizations;
drop policy if exists users_read on public.users;
drop policy if exists org_members_read_own on public.org_members;
drop policy if exists tickets_read on public.tickets;
drop policy if exists tickets_insert on public.tickets;
drop policy if exists tickets_update on public.tickets;
drop policy if exists tickets_delete on public.tickets;
drop policy if exists threads_read on public.ticket_threads;
drop policy if exists threads_insert on public.ticket_threads;
drop policy if exists threads_update on public.ticket_threads;
drop policy if exists threads_delete on public.ticket_threads;
drop policy if exists notes_read on public.ticket_notes;
drop policy if exists notes_insert on public.ticket_notes;
drop policy if exists notes_update on public.ticket_notes;
drop policy if exists notes_delete on public.ticket_notes;
drop policy if exists ai_status_read on public.thread_ai_status;

drop function if exists public.set_thread_ai_status(uuid, text, integer, text);
drop function if exists public.note_visible(public.ticket_notes);
drop function if exists public.thread_visible(public.ticket_threads);
drop function if exists public.inbox_visible(public.tickets);
drop function if exists public.ticket_visible(public.tickets);
drop function if exists public.can_read_thread(uuid);
drop function if exists public.can_read_ticket(uuid);
drop function if exists public.is_ticket_agent(uuid);
drop function if exists public.ticket_access(uuid);
drop function if exists public.is_org_member(uuid);

drop table if exists public.thread_ai_status;
drop table if exists public.ticket_notes;
drop table if exists public.ticket_threads;
drop table if exists public.tickets;
drop table if exists public.org_members;
drop table if exists public.users;
drop table if exists public.organizations;
drop function if exists public.bump_version();
drop function if exists public.touch_updated_at();

revoke usage on schema public from authenticated;

do $$
begin
    drop role if exists threadcast_ai;
exception when dependent_objects_still_exist then
    -- Roles are cluster-wide; another database still grants it something.
    raise notice 'role threadcast_ai is still used elsewhere in this cluster; kept';
end
$$;
