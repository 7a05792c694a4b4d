"""The package works for someone who is not us: `npm pack`, then the tarball installed into a
scratch app in a temporary directory outside the repository type-checks under strict (with
Node's own module resolution, so the `exports` map is what is checked) and runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "clients" / "js"

APP = """\
import { ConflictError, createClient, type NoteRealtimePayload } from "threadcast";
import { ThreadNote } from "threadcast/schemas";
import {
  ThreadcastProvider, threadKeys, useAddNote, useThreadUpdates, useThreads,
} from "threadcast/react-query";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createElement, type ReactNode } from "react";

const client = createClient("http://127.0.0.1:8000", { token: "t", offlineQueue: false });
client.channel("ticket-threads:1")
  // The table picks the row type: no generic to pass.
  .on("postgres_changes", { event: "*", table: "ticket_notes" }, (payload) => {
    const typed: NoteRealtimePayload = payload;
    if (typed.eventType !== "DELETE") console.log(typed.new.body.length);
  })
  .subscribe();

function Threads({ ticketId }: { ticketId: string }): ReactNode {
  useThreadUpdates({ ticketId });
  const threads = useThreads({ ticketId });
  const add = useAddNote();
  return createElement("button", { onClick: () => add.mutate({ threadId: "t", body: "hi" }) },
    threads.data?.threads.length ?? 0);
}

export const app = createElement(QueryClientProvider, { client: new QueryClient() },
  createElement(ThreadcastProvider, { client }, createElement(Threads, { ticketId: "1" })));
export const parsed: boolean = ThreadNote.safeParse({}).success;
export const key = threadKeys.detail("x");
export const isConflict = (e: unknown): boolean => e instanceof ConflictError;
"""

RUN = """\
import { createClient, ConflictError } from "threadcast";
import { ThreadNote } from "threadcast/schemas";
import { threadKeys } from "threadcast/react-query";
const client = createClient("http://127.0.0.1:1", { token: "t" });
console.log(JSON.stringify({
  rest: typeof client.rest.addNote, conflict: new ConflictError("x").name,
  schema: ThreadNote.safeParse({}).success, key: threadKeys.detail("x"),
}));
client.close();
"""


def sh(*command: str, cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_packed_tarball_installs_type_checks_and_runs_in_a_scratch_app(
    tmp_path_factory,
) -> None:
    packs = tmp_path_factory.mktemp("pack")
    app = tmp_path_factory.mktemp("scratch-app")
    assert not app.resolve().is_relative_to(ROOT)
    tarball = json.loads(sh("npm", "pack", "--json", "--pack-destination", str(packs), cwd=PACKAGE))
    files = {f["path"] for f in tarball[0]["files"]}
    assert {"dist/index.js", "dist/index.d.ts", "dist/react-query/index.js"} <= files
    assert not any(".test." in f for f in files)
    (app / "package.json").write_text(json.dumps({"name": "scratch", "type": "module"}))
    (app / "tsconfig.json").write_text(
        json.dumps(
            {
                "compilerOptions": {
                    "strict": True,
                    "module": "nodenext",
                    "moduleResolution": "nodenext",
                    "target": "es2022",
                    "lib": ["es2022", "dom"],
                    "noEmit": True,
                    "skipLibCheck": False,
                    "types": [],
                },
                "files": ["app.ts"],
            }
        )
    )
    (app / "app.ts").write_text(APP)
    (app / "run.mjs").write_text(RUN)
    sh(
        "npm",
        "install",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        "--loglevel=error",
        str(packs / tarball[0]["filename"]),
        "react@^19",
        "react-dom@^19",
        "@tanstack/react-query@^5",
        "typescript@~5.9",
        "@types/react@^19",
        cwd=app,
    )
    sh("npx", "tsc", "-p", ".", cwd=app)
    ran = json.loads(sh("node", "run.mjs", cwd=app))
    assert ran == {
        "rest": "function",
        "conflict": "ConflictError",
        "schema": False,
        "key": ["threads", "detail", "x"],
    }
