"""The start-up rules that protect the token: restart backoff, session-start reserve,
which release's command tree wins."""

from __future__ import annotations

import pytest

from bot.store.startup import (
    FatalRecord,
    _version_key,
    is_newer,
    restart_backoff,
    session_start_refusal,
)


def test_restart_backoff_doubles_up_to_15_minutes():
    assert [restart_backoff(n) for n in (1, 2, 3, 4, 5, 6)] == [0, 0, 0, 5, 10, 20]
    assert restart_backoff(11) == 640
    assert restart_backoff(12) == 900
    assert restart_backoff(50) == 900


def test_session_starts_below_the_reserve_refuse_with_numbers():
    limit = {"total": 1000, "remaining": 99, "reset_after": 7_200_000, "max_concurrency": 1}
    assert session_start_refusal(limit, 100) == (
        "only 99 of 1000 daily session starts left (reserve 100); "
        "Discord resets the count in 2.0 h: not connecting"
    )
    assert session_start_refusal(limit | {"remaining": 100}, 100) is None
    assert session_start_refusal(limit | {"remaining": 0}, 0) is None, "reserve 0: never refuse"


@pytest.mark.parametrize(
    ("version", "than", "newer"),
    [
        ("1.10.0", "1.9.2", True),
        ("1.9.2", "1.10.0", False),
        ("1.2.0", "1.2.0", False),
        ("1.2.0", "1.2.0rc1", True),
        ("0+unknown", "0.3.0", False),
        ("0.3.0", "0+unknown", True),
        ("release-7", "0.1", False),
    ],
)
def test_which_release_is_newer(version, than, newer):
    assert is_newer(version, than) is newer


def test_version_key_without_packaging_reads_the_leading_numbers():
    assert _version_key("1.10.2rc1+abc") == (1, 10, 2)
    assert _version_key("0+unknown") == (0,)
    assert _version_key("dev") == ()


def test_a_fatal_record_round_trips_and_holds_20_minutes():
    record = FatalRecord.now(4014, "disallowed intents", "abc123")
    assert record.retry_at - record.at == 1200
    assert FatalRecord.from_json(record.to_json()) == record
