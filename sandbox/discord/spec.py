"""Validate request bodies against the vendored Discord OpenAPI 3.1 spec.

OpenAPI 3.1 schemas are JSON Schema 2020-12, so jsonschema validates them directly once
`$ref`s resolve into the document. A few spots of the spec are stricter than Discord's
server, and discord.py relies on that leniency; they are relaxed at load time (the file
on disk stays Discord's own text):

- `SnowflakeType` is a digit string in the spec, but Discord also accepts JSON integers
  (discord.py sends `attachments[].id` as the file index and `message_reference.message_id`
  as an int).
- Permission bitfields are typed integer with a 2**54 maximum, but Discord (and discord.py,
  for `default_member_permissions`) uses decimal strings for them.
- `oneOf` unions become `anyOf`: Discord picks the variant by its `type` field, so a body
  that matches two variants is still valid for the server.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .errors import FieldError

SPEC_URI = "urn:discord-openapi"
_DIGITS = {"type": "string", "pattern": "^(0|[1-9][0-9]*)$"}
_JS_SAFE_MAX = 2**53


SPEC_PATH = Path(__file__).resolve().parent.parent / "spec" / "discord-openapi.json"


def load_spec_text() -> str:
    """The vendored (trimmed) spec. Read by path relative to this module: that works for a
    checkout, an installed wheel and an editable install alike."""
    return SPEC_PATH.read_text(encoding="utf-8")


def _relax(node: Any) -> Any:
    """Apply the leniencies described in the module docstring, recursively."""
    if isinstance(node, list):
        return [_relax(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _relax(value) for key, value in node.items()}
    if "oneOf" in out:
        out["anyOf"] = out.pop("oneOf")
    kind = out.get("type")
    is_integer = kind == "integer" or (isinstance(kind, list) and "integer" in kind)
    big = (out.get("maximum") or 0) > _JS_SAFE_MAX and (out.get("minimum") or 0) >= 0
    if is_integer and big:
        return {"anyOf": [out, _DIGITS]}
    return out


def _relaxed_spec(spec: dict[str, Any]) -> dict[str, Any]:
    relaxed = _relax(copy.deepcopy(spec))
    snowflake = relaxed["components"]["schemas"]["SnowflakeType"]
    relaxed["components"]["schemas"]["SnowflakeType"] = {
        "anyOf": [snowflake, {"type": "integer", "minimum": 0}]
    }
    return relaxed


def _pointer_escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class SchemaFailure:
    """A body that failed validation: every failing field, most specific first."""

    fields: tuple[FieldError, ...]

    @property
    def field(self) -> FieldError:
        return self.fields[0]


class SpecValidator:
    """Request-body validators keyed by (METHOD, spec path template)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = _relaxed_spec(spec)
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self._registry: Registry = Registry().with_resource(SPEC_URI, resource)
        self._validators: dict[tuple[str, str, str], Draft202012Validator | None] = {}

    @property
    def paths(self) -> list[str]:
        return list(self.spec["paths"])

    def has_body_schema(self, method: str, path: str) -> bool:
        op = self.spec["paths"].get(path, {}).get(method.lower(), {})
        return "requestBody" in op

    def _validator(self, method: str, path: str, media: str) -> Draft202012Validator | None:
        key = (method.lower(), path, media)
        if key not in self._validators:
            op = self.spec["paths"].get(path, {}).get(method.lower())
            content = (op or {}).get("requestBody", {}).get("content", {})
            chosen = media if media in content else "application/json"
            if chosen not in content:
                self._validators[key] = None
            else:
                pointer = "/".join(
                    _pointer_escape(p)
                    for p in ("paths", path, method.lower(), "requestBody", "content", chosen)
                )
                ref = {"$ref": f"{SPEC_URI}#/{pointer}/schema"}
                self._validators[key] = Draft202012Validator(ref, registry=self._registry)
        return self._validators[key]

    def validate(
        self, method: str, path: str, body: Any, *, multipart: bool = False
    ) -> SchemaFailure | None:
        """None if the body is valid (or the route has no body schema)."""
        media = "multipart/form-data" if multipart else "application/json"
        validator = self._validator(method, path, media)
        if validator is None:
            return None
        errors = [_resolve(e) for e in validator.iter_errors(body)]
        if not errors:
            return None
        errors.sort(key=_specificity, reverse=True)
        return SchemaFailure(fields=tuple(_field_error(e) for e in errors))


# Validators that say most about what is wrong when several fail at the same depth.
_PRIORITY = {"type": 3, "required": 2, "maxLength": 2, "enum": 1, "const": 1}


def _specificity(error: ValidationError) -> tuple[int, int]:
    depth = len(error.absolute_path) + (1 if error.validator == "required" else 0)
    return depth, _PRIORITY.get(str(error.validator), 0)


def _resolve(error: ValidationError) -> ValidationError:
    """Descend through anyOf/oneOf to the error of the variant the sender meant.

    A union error alone ("not valid under any of the given schemas") names no field.
    Variants that expect another kind of value (null vs object) or whose discriminator
    (`type` enum/const) rejects the body are not the meant one; among the rest the deepest
    failure is the most telling, unless it is a wrong-kind value and another variant takes
    the values as they are. If every variant rejects the discriminator, the error says
    which values would fit.
    """
    if not error.context:
        return error
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    depth = len(error.absolute_path)
    variants = list(branches.values())
    same_kind = [
        subs
        for subs in variants
        if not any(s.validator == "type" and len(s.absolute_path) == depth for s in subs)
    ]
    variants = same_kind or variants
    meant = [
        subs
        for subs in variants
        if not any(
            s.validator in ("enum", "const") and len(s.absolute_path) == depth + 1 for s in subs
        )
    ]
    if not meant:
        merged = _merged_choices(variants)
        if merged is not None:
            return merged
        meant = variants
    candidates = []
    for subs in meant:
        best = max((_resolve(s) for s in subs), key=_specificity)
        candidates.append((_specificity(best), -len(subs), best))
    # A variant whose deepest complaint is a value of the wrong kind (an integer choice
    # list given strings) was not the meant one if another variant only objects to sizes.
    fitting = [c for c in candidates if c[2].validator != "type"]
    return max(fitting or candidates, key=lambda c: (c[0], c[1]))[2]


def _merged_choices(variants: list[list[ValidationError]]) -> ValidationError | None:
    """One "must be one of" error if every variant rejects the same field's value."""
    choices: list[Any] = []
    hits = [s for subs in variants for s in subs if s.validator in ("enum", "const")]
    if len({tuple(h.absolute_path) for h in hits}) != 1:
        return None
    for hit in hits:
        values = hit.validator_value if hit.validator == "enum" else [hit.validator_value]
        choices.extend(v for v in values if v not in choices)
    return ValidationError(
        f"{hits[0].instance!r} is not one of {choices!r}",
        validator="enum",
        validator_value=_sorted(choices),
        instance=hits[0].instance,
        path=list(hits[0].absolute_path),
    )


def _sorted(values: list[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return values


def _field_error(error: ValidationError) -> FieldError:
    """Discord-style error code and message for the most relevant schema error."""
    path = list(error.absolute_path)
    kind = error.validator
    value = error.validator_value
    if kind == "maxLength":
        return FieldError(path, "BASE_TYPE_MAX_LENGTH", f"Must be {value} or fewer in length.")
    if kind == "minLength":
        return FieldError(path, "BASE_TYPE_MIN_LENGTH", f"Must be {value} or more in length.")
    if kind == "maxItems":
        return FieldError(path, "BASE_TYPE_MAX_LENGTH", f"Must be {value} or fewer in length.")
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return FieldError([*path, missing], "BASE_TYPE_REQUIRED", "This field is required")
    if kind in ("enum", "const"):
        choices = value if isinstance(value, list) else [value]
        shown = ", ".join(json.dumps(c) for c in choices)
        return FieldError(path, "BASE_TYPE_CHOICES", f"Value must be one of {{{shown}}}.")
    if kind == "type":
        return FieldError(path, "BASE_TYPE_BAD_TYPE", f"Invalid type: {error.message}")
    if kind in ("maximum", "minimum"):
        word = "less" if kind == "maximum" else "greater"
        return FieldError(
            path, "NUMBER_TYPE_OUT_OF_RANGE", f"Must be {word} than or equal to {value}."
        )
    return FieldError(path, "SCHEMA_VALIDATION", error.message)


@cache
def default_validator() -> SpecValidator:
    """The validator for the vendored spec, built once per process (parsing takes ~50 ms)."""
    return SpecValidator(json.loads(load_spec_text()))
