// The demo: one ticket's threads and notes, live, beside the organisation's inbox (agents only,
// channel org-tickets:<org>). Realtime events invalidate the ticket's data and it is fetched
// again (the seed's React Query pattern, without React); ticket events patch the inbox by
// version; AI status events drive the progress bars and the inbox's badges directly. Writes are optimistic: a new note or an edit shows at once
// (dimmed) and is replaced by the server's row; a lost edit (412) shows the winner's text.
// Presence: the page tracks {name, typing, thread_id, internal} on the ticket's channel (typing
// while the composer of thread_id holds a draft; internal while that draft is an internal note,
// which the server shows to agents only); each thread says who is viewing and who is typing,
// and an agent who starts a reply on a thread another agent is already answering is warned.
// User text is only ever set with textContent, never as HTML.
import { ConflictError, createClient } from "/static/threadcast.js";

const DEMO_TICKET = "d0000000-0000-4000-8000-000000000101";
const params = new URLSearchParams(location.search);
const token = params.get("token");
const ticketId = params.get("ticket") || DEMO_TICKET;
const $ = (selector, root = document) => root.querySelector(selector);

let data = { threads: [] };
const pendingNotes = new Map(); // threadId -> notes sent but not yet confirmed
const pendingEdits = new Map(); // noteId -> text sent but not yet confirmed
const conflicts = new Map(); // noteId -> {mine, theirs}: an edit that lost to someone else's
const aiStatus = new Map(); // threadId -> the latest ai_status payload
let ticketChannel; // the ticket's channel: its events and its presence
let me = { sub: undefined, name: "" };
let presence = { name: "", typing: false, thread_id: null, internal: false }; // what this page tracks
const repliedOver = new Map(); // threadId -> keys already replying there when this page's draft began

const client = createClient(location.origin, {
  token,
  onConnectionState: (state) => {
    const badge = $("#connection");
    badge.textContent = state;
    badge.className = state;
    showQueued();
  },
});

function claims(jwt) {
  try {
    return JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return {};
  }
}

let errorTimer;
function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => (box.hidden = true), 10000);
}

function showQueued() {
  const n = client.pendingWrites;
  $("#queued").hidden = n === 0;
  $("#queued").textContent = `${n} change${n === 1 ? "" : "s"} waiting to be sent`;
}

// One fetch in flight and at most one more queued, however many events arrive meanwhile.
let inflight;
let again = false;
function invalidate() {
  if (inflight) {
    again = true;
    return inflight;
  }
  inflight = (async () => {
    do {
      again = false;
      try {
        data = await client.rest.listThreads(ticketId);
        $("#ticket-subject").textContent = data.ticket.subject;
        render();
        startInbox(params.get("org") || data.ticket.org_id);
      } catch (error) {
        showError(`Could not load the ticket: ${error.message}`);
      }
    } while (again);
    inflight = undefined;
  })();
  return inflight;
}

/** Put a row the server returned into the data at once, before the refetch. */
function upsertNote(note) {
  const thread = data.threads.find((t) => t.id === note.thread_id);
  if (!thread) return;
  const i = thread.notes.findIndex((n) => n.id === note.id);
  if (i < 0) thread.notes.push(note);
  else if (thread.notes[i].version <= note.version) thread.notes[i] = note;
}

function noteItem(note, { pending = false } = {}) {
  const li = document.createElement("li");
  li.className = `note${note.internal ? " internal" : ""}${pending ? " pending" : ""}`;
  li.dataset.testid = "note";
  li.dataset.noteId = note.id || "";
  const body = document.createElement("span");
  body.className = "body";
  body.textContent = note.body;
  li.append(body);
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = `${note.internal ? "internal · " : ""}${pending ? "sending…" : `v${note.version}`}`;
  li.append(meta);
  if (!pending) li.append(editButton(note));
  const conflict = conflicts.get(note.id);
  if (conflict) {
    const warning = document.createElement("p");
    warning.className = "conflict";
    warning.dataset.testid = "conflict";
    warning.textContent =
      conflict.theirs === null
        ? `Your edit was not saved: the note was deleted. Your text: ${conflict.mine}`
        : `Someone else changed this note first; their text is kept: “${conflict.theirs}”. ` +
          `Your text was not saved: “${conflict.mine}”.`;
    li.append(warning);
  }
  return li;
}

function editButton(note) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "edit";
  button.dataset.testid = "edit";
  button.addEventListener("click", () => {
    const li = button.closest("li");
    if (li.querySelector("form")) return;
    // The version this edit is based on: If-Match makes the server refuse it if it is stale.
    const base = { id: note.id, version: note.version };
    const form = document.createElement("form");
    const input = document.createElement("textarea");
    input.value = note.body;
    input.dataset.testid = "edit-body";
    const save = document.createElement("button");
    save.textContent = "save";
    save.dataset.testid = "save";
    form.append(input, save);
    li.append(form);
    input.focus();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      form.remove();
      saveEdit(base, input.value);
    });
  });
  return button;
}

async function saveEdit(base, text) {
  pendingEdits.set(base.id, text);
  conflicts.delete(base.id);
  render();
  try {
    const promise = client.rest.editNote(base.id, base.version, { body: text });
    showQueued();
    upsertNote(await promise);
  } catch (error) {
    if (error instanceof ConflictError) {
      // Someone saved first. Keep their text, and say so: nothing is overwritten silently.
      conflicts.set(base.id, { mine: text, theirs: error.current?.body ?? null });
      if (error.current) upsertNote(error.current);
    } else {
      showError(`Could not save the edit: ${error.message}`);
    }
  } finally {
    pendingEdits.delete(base.id);
    showQueued();
    render();
    invalidate();
  }
}

async function send(event, threadId) {
  event.preventDefault();
  const form = event.target;
  const body = form.elements.body.value;
  const internal = form.elements.internal.checked;
  if (!body.trim()) return;
  const pending = { id: "", body, internal };
  pendingNotes.set(threadId, [...(pendingNotes.get(threadId) || []), pending]);
  form.reset();
  composing(form, threadId); // the draft is sent: no longer typing
  render();
  try {
    const promise = client.rest.addNote(threadId, body, internal);
    showQueued(); // queued when offline: it is sent when the connection is back
    upsertNote(await promise);
  } catch (error) {
    showError(`Could not send the note: ${error.message}`);
  } finally {
    pendingNotes.set(threadId, pendingNotes.get(threadId).filter((n) => n !== pending));
    showQueued();
    render();
    invalidate();
  }
}

async function simulateAIRun(button, threadId) {
  // What an AI worker would do; every page on the ticket sees the bar move.
  button.disabled = true;
  const pause = () => new Promise((resolve) => setTimeout(resolve, 600));
  try {
    await client.rest.setAIStatus(threadId, "started");
    for (const progress of [20, 45, 70, 90]) {
      await pause();
      await client.rest.setAIStatus(threadId, "processing", progress);
    }
    await pause();
    await client.rest.setAIStatus(threadId, "completed", 100);
  } catch (error) {
    showError(`AI run failed: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

function renderAI(article, ai) {
  if (!ai) return;
  const bar = $("progress", article);
  bar.value = ai.status === "completed" ? 100 : (ai.progress ?? 0);
  article.dataset.aiStatus = ai.status;
  $(".ai-label", article).textContent =
    `AI ${ai.status}` +
    (ai.status === "processing" && ai.progress != null ? ` ${ai.progress}%` : "") +
    (ai.error ? `: ${ai.error}` : "");
}

function render() {
  const container = $("#threads");
  for (const thread of data.threads) {
    let article = container.querySelector(`[data-thread-id="${thread.id}"]`);
    if (!article) {
      article = $("#thread-template").content.firstElementChild.cloneNode(true);
      article.dataset.threadId = thread.id;
      const composer = $(".composer", article);
      composer.addEventListener("submit", (event) => send(event, thread.id));
      for (const type of ["input", "focusin", "change"]) {
        composer.addEventListener(type, () => composing(composer, thread.id));
      }
      const run = $(".ai-run", article);
      run.addEventListener("click", () => simulateAIRun(run, thread.id));
      container.append(article);
    }
    $(".subject", article).textContent = thread.subject;
    // Rebuild the list, but keep a note whose edit form is open (only its text updates).
    const list = $(".notes", article);
    const editing = new Map(
      [...list.children]
        .filter((li) => li.querySelector("form"))
        .map((li) => [li.dataset.noteId, li]),
    );
    const item = (note) => {
      const shown = pendingEdits.has(note.id) ? { ...note, body: pendingEdits.get(note.id) } : note;
      const open = editing.get(note.id);
      if (!open) return noteItem(shown, { pending: pendingEdits.has(note.id) });
      $(".body", open).textContent = shown.body;
      return open;
    };
    list.replaceChildren(
      ...thread.notes.map(item),
      ...(pendingNotes.get(thread.id) || []).map((note) => noteItem(note, { pending: true })),
    );
    renderAI(article, aiStatus.get(thread.id) || thread.ai_status);
  }
  renderPresence();
  for (const article of container.querySelectorAll("[data-thread-id]")) {
    if (!data.threads.some((t) => t.id === article.dataset.threadId)) article.remove();
  }
}

// Presence ------------------------------------------------------------------------------------

/** The composer of `threadId` changed (typed in, focused, internal ticked): track what it says. */
function composing(form, threadId) {
  const typing = form.elements.body.value.trim() !== "";
  const began = typing && !(presence.typing && presence.thread_id === threadId);
  if (began) {
    // A reply begins: whoever already answers this thread is who this agent is warned about.
    repliedOver.set(threadId, new Set(othersTyping(threadId).map(([key]) => key)));
  }
  if (!typing) repliedOver.delete(threadId);
  presence = { name: me.name, typing, thread_id: threadId, internal: form.elements.internal.checked };
  ticketChannel?.track(presence); // coalesced by the client: every keystroke may call it
  renderPresence();
}

/** The ticket's requester (a customer) replies to no one's thread: agents are everyone else. */
const isAgent = (key) => Boolean(data.ticket) && key !== data.ticket.requester_id;

/** Other users with a presence typing on `threadId`: [key, their presence]. */
function othersTyping(threadId) {
  const state = ticketChannel ? ticketChannel.presenceState() : {};
  return Object.entries(state).flatMap(([key, presences]) => {
    if (key === me.sub) return [];
    const typing = presences.find((p) => p.typing && p.thread_id === threadId);
    return typing ? [[key, typing]] : [];
  });
}

const nameOf = (p, key) => (typeof p.name === "string" && p.name) || `user ${key.slice(0, 8)}`;

function renderPresence() {
  const state = ticketChannel ? ticketChannel.presenceState() : {};
  for (const article of document.querySelectorAll("[data-thread-id]")) {
    const threadId = article.dataset.threadId;
    const parts = Object.entries(state).flatMap(([key, presences]) => {
      if (key === me.sub || !presences.length) return []; // this user's own tabs
      const typing = presences.find((p) => p.typing && p.thread_id === threadId);
      const name = nameOf(typing || presences[0], key);
      return [[name, `${name} is ${typing ? (typing.internal ? "writing an internal note…" : "typing…") : "viewing"}`]];
    });
    parts.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)); // by name: a stable line
    $(".presence", article).textContent = parts.map(([, text]) => text).join(" · ");
    // The collision warning: this agent's reply began while another agent was answering.
    const warning = $(".collision", article);
    const mine = presence.typing && presence.thread_id === threadId;
    const earlier = repliedOver.get(threadId) || new Set();
    const others = mine && isAgent(me.sub)
      ? othersTyping(threadId).filter(([key]) => earlier.has(key) && isAgent(key))
      : [];
    warning.hidden = others.length === 0;
    warning.textContent = others.length
      ? `${others.map(([key, p]) => nameOf(p, key)).join(" and ")} ${others.length === 1 ? "is" : "are"} already replying to this thread`
      : "";
  }
}

// The inbox -------------------------------------------------------------------------------------

let inbox; // {orgId, tickets: Map id -> ticket with ai_statuses} once started
const inboxAI = new Map(); // ticketId -> Map threadId -> latest ai_status payload

/** Start the inbox of `orgId` once: read it, then patch it from its channel. */
function startInbox(orgId) {
  if (inbox || !orgId) return;
  inbox = { orgId, tickets: new Map() };
  const channel = client
    .channel(`org-tickets:${orgId}`)
    .on("postgres_changes", { event: "*", schema: "public", table: "tickets" }, patchInbox)
    .on("ai_status", (payload) => {
      const threads = inboxAI.get(payload.ticketId) || new Map();
      threads.set(payload.threadId, payload);
      inboxAI.set(payload.ticketId, threads);
      renderInbox();
    })
    .on("system", (payload) => {
      // Live (again): read the inbox; a change between the read and now comes on the stream
      // too, and patching by version drops what the read already had.
      if (payload.type === "subscribed" || payload.type === "reset") loadInbox();
    })
    .subscribe((status, error) => {
      if (status === "CHANNEL_ERROR" && error?.status === 403) {
        // Not an agent: no inbox. Unsubscribed, so the badge says how the ticket's channel is.
        channel.unsubscribe();
        $("#inbox").hidden = false;
        $("#inbox-tickets").replaceChildren();
        const note = $(".inbox-note");
        note.hidden = false;
        note.textContent = "The inbox is for the organisation's agents.";
      }
    });
}

async function loadInbox() {
  try {
    const list = await client.rest.listTickets({ orgId: inbox.orgId });
    for (const ticket of list.tickets) {
      keepNewer(ticket);
      const threads = new Map(ticket.ai_statuses.map((s) => [s.thread_id, { threadId: s.thread_id, ...s }]));
      if (!inboxAI.has(ticket.id)) inboxAI.set(ticket.id, threads);
    }
    $("#inbox").hidden = false;
    renderInbox();
  } catch (error) {
    showError(`Could not load the inbox: ${error.message}`);
  }
}

/** Hold `ticket` unless a newer version is held already: never roll back. */
function keepNewer(ticket, fresh = false) {
  const held = inbox.tickets.get(ticket.id);
  if (held && held.version >= ticket.version) return false;
  inbox.tickets.set(ticket.id, { ...ticket, fresh });
  return true;
}

function patchInbox(change) {
  if (change.eventType === "DELETE") inbox.tickets.delete(change.old.id);
  else if (!keepNewer(change.new, true)) return;
  if ((change.new?.id || change.old?.id) === ticketId) invalidate(); // the ticket shown here
  renderInbox();
}

function aiBadge(id) {
  const states = [...(inboxAI.get(id)?.values() || [])];
  const running = states.filter((s) => s.status === "started" || s.status === "processing");
  if (running.length) return `AI ${running[0].status}${running[0].progress != null ? ` ${running[0].progress}%` : ""}`;
  const failed = states.find((s) => s.status === "failed");
  if (failed) return "AI failed";
  return states.length ? "AI completed" : "";
}

function renderInbox() {
  const rows = [...inbox.tickets.values()].sort((a, b) =>
    a.updated_at === b.updated_at ? (a.id < b.id ? -1 : 1) : a.updated_at > b.updated_at ? -1 : 1,
  );
  $("#inbox-tickets").replaceChildren(
    ...rows.map((ticket) => {
      const li = document.createElement("li");
      li.className = `inbox-ticket${ticket.id === ticketId ? " current" : ""}${ticket.fresh ? " fresh" : ""}`;
      li.dataset.testid = "inbox-ticket";
      li.dataset.ticketId = ticket.id;
      li.dataset.version = String(ticket.version);
      const link = document.createElement("a");
      link.href = `?${new URLSearchParams({ token, ticket: ticket.id, org: inbox.orgId, ...(me.name ? { name: me.name } : {}) })}`;
      const subject = document.createElement("span");
      subject.className = "subject";
      subject.dataset.testid = "inbox-subject";
      subject.textContent = ticket.subject;
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.dataset.testid = "inbox-meta";
      meta.textContent = [ticket.status, aiBadge(ticket.id)].filter(Boolean).join(" · ");
      link.append(subject, meta);
      li.append(link);
      ticket.fresh = false;
      return li;
    }),
  );
}

async function showPicker() {
  $("#missing-token").hidden = false;
  const response = await fetch("/demo/users");
  if (!response.ok) return; // not a demo server: bring your own token
  const demo = await response.json();
  for (const user of demo.users) {
    const link = document.createElement("a");
    link.href = `?${new URLSearchParams({ token: user.token, ticket: demo.ticket, name: user.name })}`;
    link.textContent = user.name;
    link.dataset.testid = `pick-${user.role}`;
    $("#picker").append(link);
  }
}

if (!token) {
  showPicker();
} else {
  me = { sub: claims(token).sub, name: params.get("name") || claims(token).name || "" };
  me.name ||= `user ${String(me.sub ?? "?").slice(0, 8)}`;
  presence = { ...presence, name: me.name };
  $("#who").textContent = `signed in as ${me.name} (${me.sub ?? "?"})`;
  $("#ticket-subject").textContent = `Ticket ${ticketId}`;
  $("#curl").textContent =
    `curl -N -H "Authorization: Bearer ${token}" \\\n` +
    `  ${location.origin}/v1/channels/ticket-threads:${ticketId}/stream`;
  ticketChannel = client
    .channel(`ticket-threads:${ticketId}`)
    .on("presence", { event: "sync" }, renderPresence)
    .on("postgres_changes", { event: "*", schema: "public", table: "ticket_threads" }, invalidate)
    .on("postgres_changes", { event: "*", schema: "public", table: "ticket_notes" }, invalidate)
    .on("ai_status", (payload) => {
      aiStatus.set(payload.threadId, payload);
      const article = $(`[data-thread-id="${payload.threadId}"]`);
      if (article) renderAI(article, payload);
    })
    .on("system", (payload) => {
      // Live (again): load the current state. After a reset the log could not fill the gap.
      if (payload.type === "subscribed" || payload.type === "reset") invalidate();
    })
    .subscribe((status, error) => {
      if (status === "CHANNEL_ERROR" && error?.status) showError(error.message);
    });
  ticketChannel.track(presence); // viewing the ticket
}
