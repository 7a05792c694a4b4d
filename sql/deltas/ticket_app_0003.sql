-- ticket_app_0003: presence on a ticket's channel. Whoever may read the ticket may track and
-- see presences there, except that a presence composing an internal note is for the ticket's
-- agents only (public.presence_visible(), the channel's presence rule). Idempotent: a fresh
-- install applies sql/ticket_app.sql, which has all of this, and then this file.

-- Who sees a presence on a ticket's channel (the channel's presence rule): whoever may read the
-- ticket, except that a presence composing an internal note is for the ticket's agents only.
-- Anything but an absent, false or null "internal" counts as internal: a malformed state is
-- hidden from customers, not shown.
create or replace function public.presence_visible(ticket uuid, state jsonb) returns boolean
language sql stable
as $$
    select case when coalesce(state -> 'internal', 'null') in ('false', 'null')
                then public.can_read_ticket(ticket)
                else public.is_ticket_agent(ticket)
           end
$$;

select realtime.register_channel('ticket-threads:', 'public.can_read_ticket(uuid)',
                                 'public.presence_visible(uuid, jsonb)');
