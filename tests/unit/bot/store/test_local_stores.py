"""The single-process stand-ins (one process is the whole fleet): what each call answers,
written by hand. The Redis-backed ones are tested against real Redis in tests/integration."""

from __future__ import annotations

from bot.status import InstanceStatus
from bot.store.claims import ClaimState, LocalClaims
from bot.store.liveness import LocalLiveness

ME = InstanceStatus("all", "all", True, None, 0.0, "test", 1)


async def test_local_claims_are_ours_until_released() -> None:
    claims = LocalClaims()
    assert (await claims.claim("e1")).state is ClaimState.WON
    assert (await claims.claim("e1")).state is ClaimState.LOST, "a replay is dropped"
    assert (await claims.renew("e1"), await claims.finalize("e1")) == (True, True)
    assert (await claims.renew("e2"), await claims.finalize("e2")) == (False, False)
    await claims.release("e1")
    assert (await claims.renew("e1"), await claims.finalize("e1")) == (False, False)
    assert (await claims.claim("e1")).state is ClaimState.WON, "released: takeable again"
    await claims.release("never-claimed")  # nothing to give up: no error


async def test_local_claims_have_nobody_to_compare_with() -> None:
    claims = LocalClaims()
    await claims.note_seen("e1")
    assert await claims.seen_by("e1") is None


async def test_local_liveness_reports_only_this_process() -> None:
    single = LocalLiveness((1, 2, 3, 4))
    assert await single.snapshots() == {}, "nothing to report before start"
    await single.start(lambda: ME)
    assert await single.snapshots() == {0: ME}, "single-process mode: keyed 0"
    view = single.alive_view()
    assert (view.alive, view.trusted, view.announcing) == ({1, 2, 3, 4}, False, {1, 2, 3, 4})
    await single.close()
    assert await single.snapshots() == {}


async def test_local_liveness_of_one_instance_announces_itself_alone() -> None:
    three = LocalLiveness((1, 2, 3, 4), instance_id=3)
    await three.start(lambda: ME)
    assert await three.snapshots() == {3: ME}
    assert [await three.announcing_now(i) for i in (1, 2, 3, 4)] == [False, False, True, False]
