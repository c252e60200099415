"""How the node writes its log: lines of text for a person (the default), or one JSON object
per line for a log shipper (--log-format json): {"time", "level", "logger", "message"} and,
for a failure, "exception". The node logs no identity, token or secret in either format.

`say` is for what an operator must see whatever the log level (where the node listens, which
chain, how to make the first admin): printed as it is in text, a log line in JSON."""

import datetime as dt
import json
import logging
import sys
from typing import Any, Literal, TextIO

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_json = False


class JsonFormatter(logging.Formatter):
    """One log record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str, log_format: LogFormat) -> None:
    """The root logger at `level`, in `log_format`: text on stderr, as before; JSON on stdout,
    where `say` writes too, so that a shipper reads one stream of JSON lines."""
    global _json
    _json = log_format == "json"
    if _json:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    else:
        logging.basicConfig(level=level.upper(), format=TEXT_FORMAT)


def say(text: str, *, error: bool = False) -> None:
    """Tell the operator `text` whatever the log level: on stdout (stderr if an `error`) as it
    is, or as a JSON log line on stdout when the log is JSON."""
    if _json:
        record = logging.LogRecord(
            "creditchain", logging.ERROR if error else logging.INFO, __file__, 0, text, None, None
        )
        print(JsonFormatter().format(record), flush=True)
        return
    stream: TextIO = sys.stderr if error else sys.stdout
    print(text, file=stream, flush=True)
