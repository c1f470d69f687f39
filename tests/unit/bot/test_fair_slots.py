"""FairSlots: never more holders than slots, waiting holders served round-robin per user,
each told its place whenever it changes, and a cancelled waiter leaves the line."""

from __future__ import annotations

import asyncio

from bot.fair_queue import FairSlots


class Recorder:
    def __init__(self, slots: FairSlots) -> None:
        self.slots = slots
        self.order: list[str] = []
        self.places: dict[str, list[int]] = {}
        self.release: dict[str, asyncio.Event] = {}
        self.most_at_once = 0
        self._holding = 0

    async def hold(self, user: str, name: str) -> None:
        self.release[name] = asyncio.Event()

        async def told(place: int) -> None:
            self.places.setdefault(name, []).append(place)

        async with self.slots.turn(user, on_place=told):
            self._holding += 1
            self.most_at_once = max(self.most_at_once, self._holding)
            self.order.append(name)
            await self.release[name].wait()
            self._holding -= 1


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_pile_from_one_user_does_not_starve_a_later_single_request():
    rec = Recorder(FairSlots(1))
    tasks = []
    for user, name in [("a", "a1"), ("a", "a2"), ("a", "a3"), ("b", "b1")]:
        tasks.append(asyncio.create_task(rec.hold(user, name)))
        await settle()
    assert rec.order == ["a1"]
    # Waiting: a2 a3 b1, served a2? No: a1 used a's turn, so b1 comes first.
    assert rec.places == {"a2": [1, 2], "a3": [2, 3], "b1": [1]}
    for name in ["a1", "b1", "a2", "a3"]:
        rec.release[name].set()
        await settle()
    await asyncio.gather(*tasks)
    assert rec.order == ["a1", "b1", "a2", "a3"]
    assert rec.most_at_once == 1
    assert rec.places == {"a2": [1, 2, 1], "a3": [2, 3, 2, 1], "b1": [1]}


async def test_never_more_holders_than_slots_and_free_slots_are_taken_at_once():
    rec = Recorder(FairSlots(2))
    tasks = [asyncio.create_task(rec.hold(u, u)) for u in ["x", "y", "z"]]
    await settle()
    assert rec.order == ["x", "y"] and rec.places == {"z": [1]}
    rec.release["y"].set()
    await settle()
    assert rec.order == ["x", "y", "z"]
    rec.release["x"].set()
    rec.release["z"].set()
    await asyncio.gather(*tasks)
    assert rec.most_at_once == 2 and rec.slots.holding == 0 and rec.slots.waiting == 0


async def test_a_cancelled_waiter_leaves_the_line_and_those_behind_move_up():
    rec = Recorder(FairSlots(1))
    first = asyncio.create_task(rec.hold("a", "a1"))
    await settle()
    gone = asyncio.create_task(rec.hold("b", "b1"))
    await settle()
    last = asyncio.create_task(rec.hold("c", "c1"))
    await settle()
    gone.cancel()
    await settle()
    assert rec.places["c1"] == [2, 1]
    rec.release["a1"].set()
    await settle()
    rec.release["c1"].set()
    await asyncio.gather(first, last)
    assert rec.order == ["a1", "c1"] and rec.slots.holding == 0
