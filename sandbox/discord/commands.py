"""Application commands: bulk overwrite per scope (global or one guild) and the daily create cap."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import DiscordError, FieldError, invalid_form_body
from .snowflake import SnowflakeMinter

Scope = int | None  # None: global commands; otherwise a guild id

CHAT_INPUT = 1
SUBCOMMAND = 1
SUBCOMMAND_GROUP = 2
# Discord: ^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$, lowercase where the script has case.
_NAME = re.compile(r"^[-_\w]{1,32}$")


def _key(body: dict[str, Any]) -> tuple[str, int]:
    return body["name"], int(body.get("type") or CHAT_INPUT)


def _name_errors(body: dict[str, Any], path: tuple[str | int, ...]) -> list[FieldError]:
    """Name and description rules for a slash command or one of its options (recursively)."""
    errors: list[FieldError] = []
    is_option = "options" in path
    # Context-menu commands (user/message) may use spaces and capitals; slash names may not.
    slash = is_option or int(body.get("type") or CHAT_INPUT) == CHAT_INPUT
    name = body.get("name", "")
    if slash and (not _NAME.match(name) or name != name.lower()):
        errors.append(
            FieldError(
                (*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
            )
        )
    if slash and not body.get("description"):
        errors.append(
            FieldError((*path, "description"), "BASE_TYPE_REQUIRED", "This field is required")
        )
    for i, option in enumerate(body.get("options") or []):
        if isinstance(option, dict):
            errors.extend(_name_errors(option, (*path, "options", i)))
    return errors


@dataclass
class CommandRegistry:
    ids: SnowflakeMinter
    app_id: int
    creates_per_day: Callable[[], int]
    scopes: dict[Scope, dict[tuple[str, int], dict[str, Any]]] = field(default_factory=dict)
    creates: dict[tuple[Scope, str], int] = field(default_factory=dict)

    # --- writes ----------------------------------------------------------------------------

    def overwrite(self, scope: Scope, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """PUT: the full new list. Known names keep their ids; only new names count as creates."""
        errors: list[FieldError] = []
        seen: set[tuple[str, int]] = set()
        for i, body in enumerate(bodies):
            errors.extend(_name_errors(body, (i,)))
            if _key(body) in seen:
                errors.append(
                    FieldError(
                        (i, "name"),
                        "APPLICATION_COMMANDS_DUPLICATE_NAME",
                        f"Application command names must be unique: {body['name']}",
                    )
                )
            seen.add(_key(body))
        if errors:
            raise invalid_form_body(errors)
        current = self.scopes.get(scope, {})
        self._charge(scope, sum(1 for b in bodies if _key(b) not in current))
        self.scopes[scope] = {_key(b): self._stored(scope, b, current.get(_key(b))) for b in bodies}
        return self.in_scope(scope)

    def upsert(self, scope: Scope, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """POST: create or replace one command by name; True if it was new."""
        errors = _name_errors(body, ())
        if errors:
            raise invalid_form_body(errors)
        current = self.scopes.setdefault(scope, {})
        created = _key(body) not in current
        if created:
            self._charge(scope, 1)
        current[_key(body)] = self._stored(scope, body, current.get(_key(body)))
        return dict(current[_key(body)]), created

    def patch(self, scope: Scope, command_id: str, body: dict[str, Any]) -> dict[str, Any] | None:
        found = self._find_key(scope, command_id)
        if found is None:
            return None
        current = self.scopes[scope]
        merged = {**current[found], **body}
        errors = _name_errors(merged, ())
        if errors:
            raise invalid_form_body(errors)
        del current[found]
        current[_key(merged)] = self._stored(scope, merged, merged)
        return dict(current[_key(merged)])

    def delete(self, scope: Scope, command_id: str) -> bool:
        found = self._find_key(scope, command_id)
        if found is None:
            return False
        del self.scopes[scope][found]
        return True

    def _charge(self, scope: Scope, new: int) -> None:
        if new == 0:
            return
        today = dt.datetime.now(dt.UTC).date().isoformat()
        used = self.creates.get((scope, today), 0)
        limit = self.creates_per_day()
        if used + new > limit:
            now = dt.datetime.now(dt.UTC)
            midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
            retry = round((midnight - now).total_seconds(), 3)
            message = f"Max number of daily application command creates has been reached ({limit})"
            raise DiscordError(
                429,
                30034,
                message,
                headers={"Via": "1.1 google", "Retry-After": str(int(retry) + 1)},
                body={"message": message, "code": 30034, "retry_after": retry, "global": False},
            )
        self.creates[(scope, today)] = used + new

    def _stored(
        self, scope: Scope, body: dict[str, Any], previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The command as Discord returns it; the id survives, the version changes with the body."""
        kind = int(body.get("type") or CHAT_INPUT)
        perms = body.get("default_member_permissions")
        out: dict[str, Any] = {
            "id": previous["id"] if previous else str(self.ids.next()),
            "application_id": str(self.app_id),
            "version": previous["version"] if previous else str(self.ids.next()),
            "default_member_permissions": None if perms is None else str(perms),
            "type": kind,
            "name": body["name"],
            "name_localizations": body.get("name_localizations") or None,
            "description": body.get("description") or "",
            "description_localizations": body.get("description_localizations") or None,
            "contexts": body.get("contexts"),
            "integration_types": body.get("integration_types") or [0],
            "nsfw": bool(body.get("nsfw")),
        }
        if body.get("options"):
            out["options"] = body["options"]
        if scope is None:
            out["dm_permission"] = body.get("dm_permission") is not False
        else:
            out["guild_id"] = str(scope)
        if previous is not None and _comparable(previous) != _comparable(out):
            out["version"] = str(self.ids.next())
        return out

    # --- reads -----------------------------------------------------------------------------

    def in_scope(self, scope: Scope) -> list[dict[str, Any]]:
        return [dict(c) for c in self.scopes.get(scope, {}).values()]

    def get(self, scope: Scope, command_id: str) -> dict[str, Any] | None:
        found = self._find_key(scope, command_id)
        return dict(self.scopes[scope][found]) if found is not None else None

    def _find_key(self, scope: Scope, command_id: str) -> tuple[str, int] | None:
        for key, command in self.scopes.get(scope, {}).items():
            if command["id"] == str(command_id):
                return key
        return None

    def find(self, name: str, guild_id: int | None) -> dict[str, Any] | None:
        """The slash command a user would pick: the guild's own first, then the global one."""
        scopes: list[Scope] = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            command = self.scopes.get(scope, {}).get((name, CHAT_INPUT))
            if command is not None:
                return command
        return None

    def names(self, guild_id: int | None) -> list[str]:
        scopes: list[Scope] = [guild_id, None] if guild_id is not None else [None]
        found: list[str] = []
        for scope in scopes:
            for name, kind in self.scopes.get(scope, {}):
                if kind == CHAT_INPUT and name not in found:
                    found.append(name)
        return found

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """{"global": [...], "<guild id>": [...]} for tests and the demo."""
        return {
            ("global" if scope is None else str(scope)): self.in_scope(scope)
            for scope in self.scopes
        }


def _comparable(command: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in command.items() if k not in ("id", "version")}
