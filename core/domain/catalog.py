"""The model catalog: typed parameter schemas and SKUs with credit prices."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs

from core.domain.errors import InvalidParams, UnknownModel
from core.domain.money import Pricing


class Category(enum.StrEnum):
    IMAGE = "image"
    IMAGE_EDIT = "image_edit"
    VIDEO = "video"
    AUDIO = "audio"
    UPSCALE = "upscale"


@attrs.frozen
class CategoryTimes:
    """How long a category's generations may take.

    ``expiry``: how long a submitted task may run before the job is released. ``unconfirmed``:
    how long a job whose createTask answer was lost waits for a sign of its task (a callback)
    before it is released; short, because the user is watching a "checking" message.
    """

    expiry: timedelta
    unconfirmed: timedelta
    typical: timedelta | None = None
    """How long a generation usually takes (what the confirmation tells the user)."""


class ParamType(enum.StrEnum):
    TEXT = "text"
    ENUM = "enum"
    INT = "int"
    NUMBER = "number"
    BOOL = "bool"
    MEDIA = "media"


class MediaKind(enum.StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    TEXT = "text"


def when_key(value: Any) -> str:
    """How a parameter value is compared with a SKU's ``when`` (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@attrs.frozen
class ParamSpec:
    name: str
    type: ParamType
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    min: int | Decimal | None = None
    max: int | Decimal | None = None
    max_length: int | None = None
    media: MediaKind | None = None
    max_items: int = 1
    kie_name: str | None = None
    """The field name Kie.ai expects, when it differs from ours (``text``, ``image_url``…)."""
    as_list: bool = False
    """Media sent as a JSON list (``image_urls``) rather than one string (``image_url``)."""
    max_mb: int | None = None
    """Largest accepted upload for a media parameter, in megabytes."""
    accept: tuple[str, ...] = ()
    """MIME types (or ``image/*``-style prefixes) a media parameter accepts."""
    as_number: bool = False
    """An enum whose choices Kie.ai wants as numbers (most numeric enums are strings)."""

    @property
    def when_choices(self) -> tuple[str, ...]:
        """The values a SKU may be priced on: an enum's choices, or true/false."""
        if self.type is ParamType.BOOL:
            return ("false", "true")
        return self.choices if self.type is ParamType.ENUM else ()

    @property
    def wire_name(self) -> str:
        return self.kie_name or self.name

    def wire_value(self, value: Any) -> Any:
        """The canonical value as Kie.ai wants it; media become a list or a single URL."""
        if self.type is ParamType.MEDIA:
            items = list(value)
            return items if self.as_list else items[0]
        if self.type is ParamType.ENUM and self.as_number:
            return Decimal(value)
        return value

    def accepts_mime(self, mime: str) -> bool:
        if not self.accept:
            return True
        return any(
            mime == a or (a.endswith("/*") and mime.startswith(a[:-1])) for a in self.accept
        )

    def check(self, value: Any) -> Any:
        """Return the value in its canonical type, or raise InvalidParams."""
        if self.type is ParamType.TEXT:
            return self._check_text(value)
        if self.type is ParamType.ENUM:
            text = str(value)
            if text not in self.choices:
                raise InvalidParams(self.name, f"must be one of {', '.join(self.choices)}")
            return text
        if self.type is ParamType.BOOL:
            if isinstance(value, bool):
                return value
            raise InvalidParams(self.name, "must be true or false")
        if self.type in (ParamType.INT, ParamType.NUMBER):
            return self._check_number(value)
        return self._check_media(value)

    def _check_text(self, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise InvalidParams(self.name, "must be non-empty text")
        if self.max_length is not None and len(value) > self.max_length:
            raise InvalidParams(self.name, f"is longer than {self.max_length} characters")
        return value

    def _check_number(self, value: Any) -> int | Decimal:
        try:
            number: int | Decimal = (
                int(value) if self.type is ParamType.INT else Decimal(str(value))
            )
        except (TypeError, ValueError, ArithmeticError):
            raise InvalidParams(self.name, "must be a number") from None
        if isinstance(value, bool):
            raise InvalidParams(self.name, "must be a number")
        if self.min is not None and number < self.min:
            raise InvalidParams(self.name, f"must be at least {self.min}")
        if self.max is not None and number > self.max:
            raise InvalidParams(self.name, f"must be at most {self.max}")
        return number

    def _check_media(self, value: Any) -> tuple[str, ...]:
        items = (value,) if isinstance(value, str) else tuple(value or ())
        if not items or not all(isinstance(i, str) and i for i in items):
            raise InvalidParams(self.name, f"needs a {self.media or 'file'}")
        if len(items) > self.max_items:
            raise InvalidParams(self.name, f"takes at most {self.max_items} files")
        return items


@attrs.frozen
class Sku:
    """One priced variant of a model, chosen by the enum values in ``when``."""

    id: str
    credits: Decimal
    when: Mapping[str, str] = attrs.field(factory=dict)
    price: int | None = None
    free: bool = False

    def matches(self, params: Mapping[str, Any]) -> bool:
        return all(when_key(params.get(name)) == value for name, value in self.when.items())

    def price_in(self, pricing: Pricing) -> int:
        return self.price if self.price is not None else pricing.price_of_credits(self.credits)


@attrs.frozen
class ModelSpec:
    id: str
    kie_model: str
    title: str
    category: Category
    output: MediaKind
    params: tuple[ParamSpec, ...]
    skus: tuple[Sku, ...]
    description: str = ""
    hidden: bool = False
    fixed: Mapping[str, Any] = attrs.field(factory=dict)
    """Inputs always sent to Kie.ai and never asked from the user."""
    typical: timedelta | None = None
    """How long this model usually takes, when it differs from its category's."""

    @property
    def media_params(self) -> tuple[ParamSpec, ...]:
        return tuple(p for p in self.params if p.type is ParamType.MEDIA)

    @property
    def option_params(self) -> tuple[ParamSpec, ...]:
        """What the wizard asks after the media and the prompt: enums, switches, numbers."""
        return tuple(p for p in self.params if p.type not in (ParamType.MEDIA, ParamType.TEXT))

    def kie_input(self, clean: Mapping[str, Any]) -> dict[str, Any]:
        """The createTask ``input`` for already validated parameters, from the schema alone."""
        payload = dict(self.fixed)
        for spec in self.params:
            if spec.name in clean:
                payload[spec.wire_name] = spec.wire_value(clean[spec.name])
        return payload

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Apply defaults and check every parameter; unknown names are rejected."""
        unknown = set(raw) - {p.name for p in self.params}
        if unknown:
            raise InvalidParams(sorted(unknown)[0], "is not a parameter of this model")
        clean: dict[str, Any] = {}
        for spec in self.params:
            value = raw.get(spec.name)
            if value is None:
                if spec.default is not None:
                    clean[spec.name] = spec.default
                elif spec.required:
                    raise InvalidParams(spec.name, "is required")
                continue
            clean[spec.name] = spec.check(value)
        return clean

    def sku_for(self, params: Mapping[str, Any]) -> Sku:
        """The most specific SKU whose conditions all hold."""
        matching = [s for s in self.skus if s.matches(params)]
        if not matching:
            raise InvalidParams("sku", f"no price for this combination on {self.id}")
        return max(matching, key=lambda s: len(s.when))


@attrs.frozen
class Catalog:
    models: tuple[ModelSpec, ...]
    times: Mapping[Category, CategoryTimes] = attrs.field(factory=dict)
    """Every category's times (the parser requires all of them)."""

    def times_of(self, category: Category) -> CategoryTimes | None:
        return self.times.get(category)

    def typical_time(self, model: ModelSpec) -> timedelta | None:
        """How long the model usually takes: its own time, else its category's."""
        if model.typical is not None:
            return model.typical
        times = self.times.get(model.category)
        return times.typical if times is not None else None

    def get(self, model_id: str) -> ModelSpec:
        model = self.find(model_id)
        if model is None:
            raise UnknownModel(model_id)
        return model

    def find(self, model_id: str) -> ModelSpec | None:
        """The model, or None for an id the catalog does not have (a stale button, a job of a
        model that left the catalog)."""
        return next((m for m in self.models if m.id == model_id), None)

    def visible(self, category: Category | None = None) -> list[ModelSpec]:
        return [
            m for m in self.models if not m.hidden and (category is None or m.category is category)
        ]
