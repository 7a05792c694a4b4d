"""Many SSE clients in one process for the soak: raw asyncio sockets (cheap enough for a
thousand on two cores), each resuming with Last-Event-ID after every disconnect, and churning
— dropping its connection after an exponentially distributed lifetime — until told to settle.

    python -m tests.soak_clients JOBS.json OUT.json

JOBS.json: {"port", "jobs": [{"ticket", "role", "token", "path"}], "churn_until",
"end_at", "mean_lifetime"} (times are time.time()). Writes OUT.json with, per client, the
markers received in order, HTTP statuses, resets and connects; touches OUT.json.ready once
every client has been subscribed once.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any


class SoakClient:
    def __init__(self, job: dict[str, Any], port: int) -> None:
        self.job = job
        self.port = port
        self.last_id: str | None = None
        self.received: list[str] = []
        self.statuses: Counter[str] = Counter()
        self.resets = 0
        self.connects = 0
        self.subscribed = asyncio.Event()

    async def run(self, churn_until: float, end_at: float, mean_lifetime: float) -> None:
        while time.time() < end_at:
            churning = time.time() < churn_until
            lifetime = random.expovariate(1 / mean_lifetime) if churning else float("inf")
            until = min(end_at, time.time() + lifetime)
            try:
                await asyncio.wait_for(self.session(), timeout=max(0.01, until - time.time()))
            except TimeoutError:
                pass  # lifetime over: drop the connection, as a churning client does
            except OSError:
                self.statuses["connection error"] += 1
            if time.time() < end_at:
                await asyncio.sleep(random.uniform(0.05, 0.5))

    async def session(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 22)
        try:
            resume = f"Last-Event-ID: {self.last_id}\r\n" if self.last_id else ""
            writer.write(
                f"GET {self.job['path']} HTTP/1.1\r\nHost: soak\r\n"
                f"Authorization: Bearer {self.job['token']}\r\n{resume}\r\n".encode()
            )
            await writer.drain()
            status = (await reader.readline()).split(b" ")
            code = status[1].decode() if len(status) > 1 else "none"
            self.statuses[code] += 1
            if code != "200":
                return
            self.connects += 1
            await self.read_frames(reader)
        finally:
            writer.close()

    async def read_frames(self, reader: asyncio.StreamReader) -> None:
        # Each SSE frame is one HTTP chunk, so lines never straddle chunks; the chunk-size
        # lines are neither field lines nor blank, and are skipped.
        event = data = frame_id = ""
        while True:
            line = await reader.readline()
            if not line:
                return
            line = line.rstrip(b"\r\n")
            if line.startswith(b"id: "):
                frame_id = line[4:].decode()
            elif line.startswith(b"event: "):
                event = line[7:].decode()
            elif line.startswith(b"data: "):
                data = line[6:].decode()
            elif not line and data:
                self.dispatch(event, data, frame_id)
                event = data = frame_id = ""

    def dispatch(self, event: str, data: str, frame_id: str) -> None:
        body = json.loads(data)
        if event == "postgres_changes":
            self.received.append((body["new"] or body["old"])["body"])
        elif event == "system" and body["type"] == "subscribed":
            self.subscribed.set()
        elif event == "system" and body["type"] == "reset":
            self.resets += 1
        if frame_id:
            self.last_id = frame_id

    def report(self) -> dict[str, Any]:
        return {
            "ticket": self.job["ticket"],
            "role": self.job["role"],
            "received": self.received,
            "statuses": dict(self.statuses),
            "resets": self.resets,
            "connects": self.connects,
        }


async def main(jobs_path: Path, out_path: Path) -> None:
    spec = json.loads(jobs_path.read_text())
    clients = [SoakClient(job, spec["port"]) for job in spec["jobs"]]
    tasks = []
    for client in clients:
        run = client.run(spec["churn_until"], spec["end_at"], spec["mean_lifetime"])
        tasks.append(asyncio.create_task(run))
        await asyncio.sleep(0.002)  # a connect storm is not what the soak measures
    await asyncio.wait_for(
        asyncio.gather(*(c.subscribed.wait() for c in clients)), timeout=max(30, len(clients) / 20)
    )
    Path(f"{out_path}.ready").touch()
    await asyncio.gather(*tasks)
    out_path.write_text(json.dumps([c.report() for c in clients]))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
