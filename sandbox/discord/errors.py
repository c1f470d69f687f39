"""Discord's error envelopes, as exceptions the REST layer turns into responses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

PathPart = str | int


class UnknownTarget(ValueError):
    """A driver call named a channel, thread, command or option the fake does not know."""


class DiscordError(Exception):
    """An error answer: HTTP status plus Discord's `{"message", "code"[, "errors"]}` body."""

    def __init__(
        self,
        status: int,
        code: int | None,
        message: str,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code if code is not None else '-'}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self._body = body

    def body(self) -> dict[str, Any]:
        if self._body is not None:
            return self._body
        out: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


class FieldError:
    """One failing field of a form body: where, Discord's error code, human text."""

    def __init__(self, path: Sequence[PathPart], code: str, message: str) -> None:
        self.path = tuple(path)
        self.code = code
        self.message = message

    @property
    def dotted(self) -> str:
        return ".".join(str(p) for p in self.path) or "<body>"

    def __repr__(self) -> str:
        return f"FieldError({self.dotted!r}, {self.code!r}, {self.message!r})"


def errors_tree(field_errors: Iterable[FieldError]) -> dict[str, Any]:
    """Nest field errors the way Discord does: {"embeds": {"0": {"title": {"_errors": [...]}}}}."""
    tree: dict[str, Any] = {}
    for err in field_errors:
        node = tree
        for part in err.path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": err.code, "message": err.message})
    return tree


def invalid_form_body(field_errors: Sequence[FieldError]) -> DiscordError:
    return DiscordError(400, 50035, "Invalid Form Body", errors=errors_tree(field_errors))


# The errors the fake raises, named once so messages match Discord's wording.
def unauthorized() -> DiscordError:
    return DiscordError(401, 0, "401: Unauthorized")


def not_found_route(method: str, path: str) -> DiscordError:
    return DiscordError(404, 0, f"404: Not Found (the fake Discord does not serve {method} {path})")


def unknown_channel() -> DiscordError:
    return DiscordError(404, 10003, "Unknown Channel")


def unknown_message() -> DiscordError:
    return DiscordError(404, 10008, "Unknown Message")


def unknown_webhook() -> DiscordError:
    return DiscordError(404, 10015, "Unknown Webhook")


def unknown_application() -> DiscordError:
    return DiscordError(404, 10002, "Unknown Application")


def unknown_command() -> DiscordError:
    return DiscordError(404, 10063, "Unknown application command")


def unknown_interaction() -> DiscordError:
    return DiscordError(404, 10062, "Unknown interaction")


def already_acknowledged() -> DiscordError:
    return DiscordError(400, 40060, "Interaction has already been acknowledged.")


def invalid_webhook_token() -> DiscordError:
    return DiscordError(401, 50027, "Invalid Webhook Token")


def empty_message() -> DiscordError:
    return DiscordError(400, 50006, "Cannot send an empty message")


def entity_too_large() -> DiscordError:
    return DiscordError(413, 40005, "Request entity too large")


def invalid_json() -> DiscordError:
    return DiscordError(400, 50109, "The request body contains invalid JSON.")


def cannot_edit_others() -> DiscordError:
    return DiscordError(403, 50005, "Cannot edit a message authored by another user")
