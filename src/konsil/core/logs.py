"""JSON log lines without PHI: one object per line (time, level, logger, message), query strings and e-mail
addresses removed from every message, exceptions reduced to their class and where they were raised.

settings.LOGGING uses it when KONSIL_LOG_FORMAT=json (the default unless KONSIL_DEBUG)."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

QUERY = re.compile(r"(/[^\s?\"']*)\?[^\s\"']*")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def scrub(text: str) -> str:
    """Drop URL query strings (search terms, names) and e-mail addresses from a log message."""
    return EMAIL.sub("[email]", QUERY.sub(r"\1?[query]", text))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        body = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(message),
            "process": record.process,
        }
        if record.exc_info and record.exc_info[0] is not None:
            frame = record.exc_info[2]
            while frame is not None and frame.tb_next is not None:
                frame = frame.tb_next
            where = f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame is not None else ""
            body["error"] = {"type": record.exc_info[0].__name__, "at": where}  # never the message: it may hold PHI
        return json.dumps(body, ensure_ascii=False)
