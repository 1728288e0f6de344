"""Fast JSON for the hot paths (replies and stored JSON columns), with Flask's conventions kept.

orjson writes the same JSON as the standard library for the types we send; dates, times and
anything else unusual still go through Flask's ``default`` (HTTP dates, dataclasses, ...).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS


def dumps_text(value: Any) -> str:
    """JSON text of ``value``: stored JSON columns and WebSocket frames (anything orjson cannot
    encode natively is written with ``str``)."""
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


# A number of 20 digits or more: orjson reads an integer beyond 64 bits as a float, silently.
_LONG_NUMBER = re.compile(rb"[0-9]{20}")
_LONG_NUMBER_TEXT = re.compile(r"[0-9]{20}")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(s: str | bytes) -> Any:
    """Parse JSON as orjson does (NaN and Infinity refused), except that an integer beyond 64
    bits stays an integer, so that the schema's range check names its field; such documents go
    through the standard library's parser."""
    pattern = _LONG_NUMBER_TEXT if isinstance(s, str) else _LONG_NUMBER
    if pattern.search(s) is None:  # type: ignore[arg-type]
        return orjson.loads(s)
    return json.loads(s, parse_constant=_no_constant)


class FastJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with orjson doing the encoding and decoding."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs.get("sort_keys") or kwargs.get("indent") is not None:
            return super().dumps(obj, **kwargs)
        return orjson.dumps(obj, default=self.default, option=_OPTIONS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s) if not kwargs else super().loads(s, **kwargs)

    def response(self, *args: Any, **kwargs: Any) -> Any:
        obj = self._prepare_response_obj(args, kwargs)
        body = orjson.dumps(obj, default=self.default, option=_OPTIONS)
        return self._app.response_class(body, mimetype=self.mimetype)
