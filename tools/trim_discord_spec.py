"""Vendor a trimmed copy of Discord's official OpenAPI spec into sandbox/spec/.

The fake Discord only serves a handful of routes, so it only needs those path items plus
every component they reference (transitively). Trimming keeps the package small and the
spec load fast while the kept text stays Discord's own, unmodified.

Usage:
    python tools/trim_discord_spec.py [SOURCE_JSON] [SOURCE_LICENSE]

Defaults read ../shared/specs/discord-openapi.json and its licence and write
sandbox/spec/discord-openapi.json and sandbox/spec/LICENSE.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "specs" / "discord-openapi.json"
DEFAULT_LICENSE = ROOT.parent / "shared" / "specs" / "discord-openapi.LICENSE"
OUT_DIR = ROOT / "sandbox" / "spec"

# Every path the fake serves (sandbox/discord/rest.py); keep this list in step with it.
KEPT_PATHS: tuple[str, ...] = (
    "/users/@me",
    "/users/@me/channels",
    "/users/{user_id}",
    "/guilds/{guild_id}/members/{user_id}",
    "/oauth2/applications/@me",
    "/gateway",
    "/gateway/bot",
    "/applications/{application_id}/commands",
    "/applications/{application_id}/commands/{command_id}",
    "/applications/{application_id}/guilds/{guild_id}/commands",
    "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
    "/interactions/{interaction_id}/{interaction_token}/callback",
    "/webhooks/{webhook_id}/{webhook_token}",
    "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
    "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
    "/channels/{channel_id}",
    "/channels/{channel_id}/messages",
    "/channels/{channel_id}/messages/{message_id}",
    "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me",
    "/channels/{channel_id}/typing",
)


def _refs(node: Any) -> set[str]:
    """All local `$ref` targets inside node."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/"):
                found.add(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _lookup(spec: dict[str, Any], ref: str) -> Any:
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def trim(spec: dict[str, Any], paths: tuple[str, ...] = KEPT_PATHS) -> dict[str, Any]:
    missing = [p for p in paths if p not in spec["paths"]]
    if missing:
        raise SystemExit(f"paths not in the source spec: {missing}")
    kept_paths = {p: spec["paths"][p] for p in paths}
    # Security requirements name schemes without $ref; keep them all (they are tiny).
    components: dict[str, dict[str, Any]] = {
        "securitySchemes": spec["components"].get("securitySchemes", {})
    }
    pending = _refs(kept_paths)
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, section, name = ref[2:].split("/", 2)
        target = _lookup(spec, ref)
        components.setdefault(section, {})[name] = target
        pending |= _refs(target) - seen
    for members in components.values():
        # Stable order keeps diffs of the vendored file readable.
        items = sorted(members.items())
        members.clear()
        members.update(items)
    heads = ("openapi", "info", "externalDocs", "servers")
    out: dict[str, Any] = {key: spec[key] for key in heads if key in spec}
    out["paths"] = kept_paths
    out["components"] = components
    return out


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    licence = Path(argv[2]) if len(argv) > 2 else DEFAULT_LICENSE
    spec = json.loads(source.read_text(encoding="utf-8"))
    trimmed = trim(spec)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    target = OUT_DIR / "discord-openapi.json"
    target.write_text(json.dumps(trimmed, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    shutil.copyfile(licence, OUT_DIR / "LICENSE")
    schemas = len(trimmed["components"].get("schemas", {}))
    print(f"wrote {target} ({len(trimmed['paths'])} paths, {schemas} schemas)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
