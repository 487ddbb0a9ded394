"""``--log-format json|text`` and ``--log-level`` of ``serve`` and ``worker``: one line per
request or turn on stderr, from the ``effecthost`` loggers (the library itself stays quiet until an
application configures logging, as this does)."""

from __future__ import annotations

import enum
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


class LogLevel(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


LogFormatOption = Annotated[
    LogFormat,
    typer.Option("--log-format", case_sensitive=False, help="One line per record: text, or a JSON object."),
]
LogLevelOption = Annotated[
    LogLevel,
    typer.Option(
        "--log-level",
        case_sensitive=False,
        help="info: a line per request or turn; debug: a line per effect too; warning: problems only.",
    ),
]

#: ``LogRecord`` attributes that are not fields a caller added with ``extra=``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    structured = getattr(record, "effecthost", None)
    if isinstance(structured, dict):
        fields.update(structured)
    for name, value in vars(record).items():
        if name not in _STANDARD and name != "effecthost":
            fields[name] = value
    return fields


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...fields}``: the record's structured fields at
    the top level, so a log pipeline can filter by ``replay_key`` or ``outcome``."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in _fields(record).items():
            body.setdefault(name, value)
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``ts LEVEL logger: message key=value ...``"""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={json.dumps(v, default=str)}" for k, v in _fields(record).items())
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if fields:
            line += f" {fields}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(log_format: LogFormat, level: LogLevel) -> None:
    """Send the ``effecthost`` loggers to stderr, one line a record, at ``level`` and above."""
    logger = logging.getLogger("effecthost")
    for handler in list(logger.handlers):
        if getattr(handler, "effecthost_cli", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.effecthost_cli = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if log_format is LogFormat.JSON else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(level.value.upper())
    logger.propagate = False


__all__ = ["LogFormat", "LogFormatOption", "LogLevel", "LogLevelOption", "configure_logging"]
