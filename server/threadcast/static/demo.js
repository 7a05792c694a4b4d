// The demo: one ticket's threads and notes, live. Every realtime event invalidates the ticket's
// data and refetches it (the seed's React Query pattern, without React); writes are optimistic.
// Note bodies are only ever set with textContent.
import { ConflictError, createClient } from "/static/threadcast.js";

const DEMO_TICKET = "d0000000-0000-4000-8000-000000000101";
const params = new URLSearchParams(location.search);
const token = params.get("token");
const ticketId = params.get("ticket") || DEMO_TICKET;
const $ = (selector, root = document) => root.querySelector(selector);

function claims(jwt) {
  try {
    return JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return {};
  }
}

const me = claims(token || "").sub;
const optimistic = new Map(); // threadId -> notes not yet confirmed
const progress = new Map(); // threadId -> latest ai_status payload
const conflicts = new Map(); // noteId -> the winner's text after a lost edit
let data = { threads: [] };

const client = createClient(location.origin, {
  token,
  onConnectionState: (state) => {
    const badge = $("#connection");
    badge.textContent = state;
    badge.className = state;
  },
});

let refetching;
function invalidate() {
  // Coalesce bursts: one refetch in flight, one queued at most.
  refetching = (refetching || Promise.resolve()).then(refetch, refetch);
}

async function refetch() {
  data = await client.rest.listThreads(ticketId);
  render();
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
  meta.textContent = `${note.internal ? "internal · " : ""}v${note.version ?? "…"}`;
  li.append(meta);
  if (!pending) li.append(editButton(note));
  if (conflicts.has(note.id)) {
    const warning = document.createElement("p");
    warning.className = "conflict";
    warning.dataset.testid = "conflict";
    warning.textContent = `Someone else changed this note first. Their text: ${conflicts.get(note.id)}`;
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
    const form = document.createElement("form");
    const input = document.createElement("textarea");
    input.value = note.body;
    input.dataset.testid = "edit-body";
    const save = document.createElement("button");
    save.textContent = "save";
    save.dataset.testid = "save";
    form.append(input, save);
    li.append(form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await client.rest.editNote(note.id, note.version, { body: input.value });
        conflicts.delete(note.id);
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        conflicts.set(note.id, error.current?.body ?? "(deleted)");
      } finally {
        form.remove();
        invalidate();
      }
    });
  });
  return button;
}

function render() {
  const container = $("#threads");
  // Rebuild the note lists, but keep a note whose edit form is open (only its text updates).
  for (const thread of data.threads) {
    let article = container.querySelector(`[data-thread-id="${thread.id}"]`);
    if (!article) {
      article = $("#thread-template").content.firstElementChild.cloneNode(true);
      article.dataset.threadId = thread.id;
      article.dataset.testid = "thread";
      $(".subject", article).textContent = thread.subject;
      $(".composer", article).addEventListener("submit", (event) => send(event, thread.id));
      container.append(article);
    }
    const list = $(".notes", article);
    const editing = new Map(
      [...list.children].filter((li) => li.querySelector("form")).map((li) => [li.dataset.noteId, li]),
    );
    const item = (note) => {
      const li = editing.get(note.id);
      if (!li) return noteItem(note);
      $(".body", li).textContent = note.body;
      return li;
    };
    list.replaceChildren(
      ...thread.notes.map(item),
      ...(optimistic.get(thread.id) || []).map((note) => noteItem(note, { pending: true })),
    );
    const ai = progress.get(thread.id) || thread.ai_status;
    if (ai) {
      $("progress", article).value = ai.status === "completed" ? 100 : ai.progress ?? 0;
      $("progress", article).dataset.testid = "ai-progress";
      $(".ai-label", article).textContent = ai.status + (ai.error ? `: ${ai.error}` : "");
    }
  }
}

async function send(event, threadId) {
  event.preventDefault();
  const form = event.target;
  const body = form.elements.body.value;
  const internal = form.elements.internal.checked;
  if (!body.trim()) return;
  const pending = { body, internal, version: undefined };
  optimistic.set(threadId, [...(optimistic.get(threadId) || []), pending]);
  form.reset();
  render();
  try {
    await client.rest.addNote(threadId, body, internal);
  } catch (error) {
    alert(`Could not send: ${error.message}`);
  } finally {
    optimistic.set(threadId, (optimistic.get(threadId) || []).filter((n) => n !== pending));
    invalidate();
  }
}

async function showPicker() {
  $("#missing-token").hidden = false;
  const response = await fetch("/demo/users");
  if (!response.ok) return; // not a demo server: a token is needed
  const demo = await response.json();
  for (const user of demo.users) {
    const link = document.createElement("a");
    link.href = `?token=${encodeURIComponent(user.token)}&ticket=${demo.ticket}`;
    link.textContent = user.name;
    link.dataset.testid = `pick-${user.role}`;
    $("#picker").append(link, " ");
  }
}

if (!token) {
  showPicker();
} else {
  $("#who").textContent = `signed in as ${me}`;
  $("#curl").textContent =
    `curl -N -H "Authorization: Bearer ${token}" \\\n  ${location.origin}/v1/channels/ticket-threads:${ticketId}/stream`;
  client
    .channel(`ticket-threads:${ticketId}`)
    .on("postgres_changes", { event: "*", schema: "public", table: "ticket_threads" }, invalidate)
    .on("postgres_changes", { event: "*", schema: "public", table: "ticket_notes" }, invalidate)
    .on("ai_status", (payload) => {
      progress.set(payload.threadId, payload);
      render();
    })
    .on("system", (payload) => {
      if (payload.type === "subscribed" || payload.type === "reset") invalidate();
    })
    .subscribe();
}
