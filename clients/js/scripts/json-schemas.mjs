// Prints {name: JSON Schema} for the package's Zod schemas, named as the server's pydantic
// models are (`python -m threadcast.json_schemas`), for tests/test_js_schemas_drift.py.
// Needs `npm run build` first (it reads dist/).
import { z } from "zod";
import * as S from "../dist/schemas.js";

// Request bodies are described as what they accept (input), the rest as what they give.
const requests = new Set(["TrackPresence", "CreateThread", "CreateNote", "EditNote", "SetAIStatus"]);
const names = [
  "Thread", "ThreadNote", "Ticket", "ThreadWithNotes", "ThreadDetail", "ThreadList", "InboxTicket",
  "TicketList", "AIState", "ErrorBody", "TicketRealtimePayload",
  "ThreadRealtimePayload", "NoteRealtimePayload", "AIProcessingPayload", "SystemEvent",
  "PresenceEntry", "PresencePayload", "PresenceTracked",
  ...requests,
];
const out = {};
for (const name of names) {
  out[name] = z.toJSONSchema(S[name], { io: requests.has(name) ? "input" : "output", unrepresentable: "any" });
}
process.stdout.write(JSON.stringify(out));
