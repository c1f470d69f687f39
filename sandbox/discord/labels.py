"""Which instance did what: the `/i/<label>` prefix of the URL a client was configured with.

Production runs every instance with one bot token, so the token cannot tell instances apart.
The fleet runner gives each instance its own endpoint URLs instead, with the label right
after the host (`labelled_url`)::

    DISCORD_GATEWAY_URL=ws://127.0.0.1:PORT/i/3/gateway
    DISCORD_API_BASE_URL=http://127.0.0.1:PORT/i/3/api/v10

The double serves every route under such a prefix too, strips it, and records the label:
on the gateway session (and in READY's `resume_gateway_url`, so reconnects keep it) and on
each REST request. The bot itself needs no change, only these two settings, exactly as a
real deployment sets them to plain URLs.

Without a label (plain URLs, as the in-process tests use) the double falls back to the
token: `sandbox-instance-N` is labelled "N", any other token has no label.
"""

from __future__ import annotations

import re

from yarl import URL

LABEL_PARAM = "sandbox_instance_label"  # route parameter name, unlikely to clash
LABEL_ROUTE = "/i/{" + LABEL_PARAM + r":[A-Za-z0-9_.]+}"
LEGACY_TOKEN_PREFIX = "sandbox-instance-"
_LABEL = re.compile(r"[A-Za-z0-9_.]+")


def labelled_url(url: str, label: str) -> str:
    """`url` with `/i/<label>` inserted before its path (its query, if any, kept)."""
    if not _LABEL.fullmatch(label):
        raise ValueError(f"instance label {label!r} must match {_LABEL.pattern}")
    parsed = URL(url)
    return str(parsed.with_path(f"/i/{label}{parsed.path.rstrip('/')}").with_query(parsed.query))


def instance_of(token: str | None) -> str | None:
    """The fallback label of an unlabelled client: "N" for a `sandbox-instance-N` token."""
    if not token or not token.startswith(LEGACY_TOKEN_PREFIX):
        return None
    return token.removeprefix(LEGACY_TOKEN_PREFIX) or None
