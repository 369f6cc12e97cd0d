"""JSONB values written the same way everywhere: Decimals as JSON numbers, nothing else magic.

psycopg's default ``json.dumps`` refuses ``Decimal``, which is what the catalog gives numeric
parameters (their defaults, minimums and validated values). Every JSONB the bot writes goes
through ``jsonb()``, so a wizard state or a job's parameters with a number in them are stored;
a value JSON cannot hold (a set, an object) fails with a message that names its type.
"""

from __future__ import annotations

from typing import Any

import msgspec
from psycopg.types.json import Jsonb

_encoder = msgspec.json.Encoder(decimal_format="number")


class NotJson(TypeError):
    """A value with no JSON form was about to be stored."""


def dumps(value: Any) -> str:
    try:
        return _encoder.encode(value).decode()
    except (TypeError, msgspec.EncodeError) as exc:
        raise NotJson(f"cannot store as JSON: {exc}") from None


def jsonb(value: Any) -> Jsonb:
    return Jsonb(value, dumps=dumps)
