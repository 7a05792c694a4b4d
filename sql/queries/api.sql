-- Named queries of the REST API (server/threadcast/api.py). Every one runs as the calling user
-- (SET LOCAL ROLE + request.jwt.claims), so RLS decides what exists for them.

-- ticket --
-- The ticket, if the caller can see it.
select * from public.tickets where id = %(ticket_id)s

-- threads_of_ticket --
-- The ticket's threads, oldest first.
select * from public.ticket_threads where ticket_id = %(ticket_id)s order by created_at, id

-- notes_of_ticket --
-- The ticket's notes the caller may see, oldest first.
select * from public.ticket_notes where ticket_id = %(ticket_id)s order by created_at, id

-- ai_states_of_ticket --
-- Current AI processing state of the ticket's threads.
select * from public.thread_ai_status where ticket_id = %(ticket_id)s

-- thread --
-- One thread.
select * from public.ticket_threads where id = %(thread_id)s

-- notes_of_thread --
-- The thread's notes the caller may see, oldest first.
select * from public.ticket_notes where thread_id = %(thread_id)s order by created_at, id

-- ai_state_of_thread --
-- The thread's current AI processing state.
select * from public.thread_ai_status where thread_id = %(thread_id)s

-- create_thread --
-- A new thread on a ticket, created by the caller. With an id the client chose, nothing if
-- that id is taken (a retried request, or a clash the caller is told about).
insert into public.ticket_threads (id, ticket_id, subject, created_by)
values (coalesce(%(id)s::uuid, gen_random_uuid()), %(ticket_id)s, %(subject)s, realtime.uid())
on conflict (id) do nothing
returning *

-- create_note --
-- A new note on a thread, written by the caller; an id taken already inserts nothing, as in
-- create_thread.
insert into public.ticket_notes (id, thread_id, ticket_id, author_id, body, internal)
values (coalesce(%(id)s::uuid, gen_random_uuid()), %(thread_id)s, %(ticket_id)s,
        realtime.uid(), %(body)s, %(internal)s)
on conflict (id) do nothing
returning *

-- own_note --
-- The note with this id if the caller wrote it on this thread: a retried create_note.
select * from public.ticket_notes
 where id = %(note_id)s and thread_id = %(thread_id)s and author_id = realtime.uid()

-- own_thread --
-- The thread with this id if the caller created it on this ticket: a retried create_thread.
select * from public.ticket_threads
 where id = %(thread_id)s and ticket_id = %(ticket_id)s and created_by = realtime.uid()

-- note --
-- One note.
select * from public.ticket_notes where id = %(note_id)s

-- edit_note --
-- Edits a note if the caller may; a stale version raises TC409 (sql/ticket_app.sql).
update public.ticket_notes
   set body = coalesce(%(body)s, body),
       internal = coalesce(%(internal)s, internal),
       version = %(version)s
 where id = %(note_id)s
returning *

-- delete_note --
-- Deletes a note if the caller may, and, when a version is given, only at that version.
delete from public.ticket_notes
 where id = %(note_id)s and (%(version)s::int is null or version = %(version)s::int)
returning id

-- set_ai_status --
-- Records a thread's AI status and appends an ai_status event.
select * from public.set_thread_ai_status(%(thread_id)s, %(status)s, %(progress)s, %(error)s)

-- tickets --
-- The tickets the caller may see (of one organisation, if given), most recently updated first,
-- each with the current AI state of its threads (those the caller may see), oldest first.
select t.*,
       coalesce((select jsonb_agg(to_jsonb(s) order by s.updated_at, s.thread_id)
                   from public.thread_ai_status s
                  where s.ticket_id = t.id), '[]') as ai_statuses
  from public.tickets t
 where %(org_id)s::uuid is null or t.org_id = %(org_id)s::uuid
 order by t.updated_at desc, t.id
 limit %(limit)s
