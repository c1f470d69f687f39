"""Reading /이미지 answers off the Discord double, shared by the integration and e2e tests."""

from __future__ import annotations

import asyncio
from typing import Any


async def finished(handle: Any, timeout: float = 20.0) -> Any:
    """The answer once the progress placeholder gave way to the result or an error."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await handle.wait_for_response(timeout=timeout, settle=0.2)
        content = result.content or ""
        if result.embeds or result.ephemeral or content.startswith("⚠️"):
            return result
        assert asyncio.get_running_loop().time() < deadline, f"never finished: {content!r}"
        await asyncio.sleep(0.1)


def field(result: Any, name: str) -> str:
    """The value of the result embed's field `name`."""
    return next(f["value"] for f in result.embeds[0]["fields"] if f["name"] == name)


def buttons(result: Any) -> dict[str, str]:
    """The result message's buttons: label -> custom id."""
    components = result.messages[0].get("components", [])
    return {c["label"]: c["custom_id"] for row in components for c in row["components"]}
