-- Undoes ticket_app_0003: ticket channels have no presence rule.

select realtime.register_channel('ticket-threads:', 'public.can_read_ticket(uuid)');
drop function if exists public.presence_visible(uuid, jsonb);
