"""A waiting line served round-robin across users, so one user's pile never starves another.

Service goes in turns. A user's waiting items take consecutive turns: the first one the
turn being served now (`max` with the turn after that user's last service: a user already
served this turn waits for the next), each further one the turn after. Items are served by
turn, and within a turn in order of arrival. So with A1 A2 A3 B1 waiting the order is
A1 B1 A2 A3; and a user whose first job went straight to a free slot (served in the turn
now being served) waits behind a newcomer who has had no turn yet.

A removed item's later siblings move up a turn each: cancelling a job never costs its
user a turn. `position` is the place at which an item will actually be served if nothing
else changes (1 = next). Pure logic, no I/O, no clock: the job runner decides when to pop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator
from itertools import count
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)


class _Line(Generic[T]):
    """One user's waiting items, oldest first; the first is served in `first_turn`."""

    __slots__ = ("first_turn", "items")

    def __init__(self, first_turn: int) -> None:
        self.first_turn = first_turn
        self.items: deque[tuple[int, T]] = deque()  # (arrival number, item)

    def entries(self) -> Iterator[tuple[int, int, T]]:
        for offset, (arrival, item) in enumerate(self.items):
            yield self.first_turn + offset, arrival, item


class FairQueue(Generic[T]):
    def __init__(self) -> None:
        self._lines: dict[Hashable, _Line[T]] = {}  # users with waiting items
        self._user_of: dict[T, Hashable] = {}
        self._served: dict[Hashable, int] = {}  # user -> last turn served (this turn's only)
        self._turn = 0  # the turn of the item served last
        self._arrivals = count()

    def add(self, user: Hashable, item: T) -> None:
        """Queue `item` behind `user`'s other waiting items (`ValueError` if it waits).
        Any hashable is a user, None included (one anonymous user)."""
        if item in self._user_of:
            raise ValueError(f"{item!r} is already waiting")
        line = self._lines.get(user)
        if line is None:
            first = max(self._served.get(user, -1) + 1, self._turn)
            line = self._lines[user] = _Line(first)
        line.items.append((next(self._arrivals), item))
        self._user_of[item] = user

    def remove(self, item: T) -> bool:
        """Take `item` out of the line (its user's later items move up); False if absent."""
        if item not in self._user_of:
            return False
        user = self._user_of.pop(item)
        line = self._lines[user]
        for entry in line.items:
            if entry[1] == item:
                line.items.remove(entry)
                break
        if not line.items:
            del self._lines[user]
        return True

    def pop_next(self) -> T | None:
        """The item to serve now (None when nothing waits); its user's turn is used."""
        if not self._lines:
            return None
        user, line = min(
            self._lines.items(), key=lambda pair: (pair[1].first_turn, pair[1].items[0][0])
        )
        _, item = line.items.popleft()
        turn = line.first_turn
        line.first_turn += 1
        if not line.items:
            del self._lines[user]
        del self._user_of[item]
        if turn > self._turn:
            self._turn = turn
            # Only those served in this turn still wait a turn longer when they come back.
            self._served = {u: t for u, t in self._served.items() if t >= turn}
        self._served[user] = turn
        return item

    def position(self, item: T) -> int | None:
        """1-based place in the order of service; None if `item` is not waiting."""
        if item not in self._user_of:
            return None
        mine = next(
            (turn, arrival)
            for turn, arrival, queued in self._lines[self._user_of[item]].entries()
            if queued == item
        )
        ahead = sum(1 for line in self._lines.values() for key in line.entries() if key[:2] < mine)
        return ahead + 1

    def forget_served(self) -> None:
        """Forget who was served: call when nothing waits or runs, so that yesterday's
        jobs do not put a user behind others when the next busy spell starts."""
        if not self._lines:
            self._served.clear()

    def __iter__(self) -> Iterator[T]:
        """The waiting items in the order they will be served."""
        keys = sorted(key for line in self._lines.values() for key in line.entries())
        return iter([item for _, _, item in keys])

    def __len__(self) -> int:
        return len(self._user_of)

    def __contains__(self, item: object) -> bool:
        return item in self._user_of


# Told a waiting item's new place (1 = next), whenever it changes.
PlaceCallback = Callable[[int], Awaitable[None]]


class FairSlots:
    """At most `capacity` holders at once; the rest wait in a `FairQueue` and are told
    their place whenever it changes (`on_place`). For work that simply waits its turn in
    one process (an image being drawn); the job runner keeps its own, durable, line."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.holding = 0
        self._queue: FairQueue[object] = FairQueue()
        self._granted: dict[object, asyncio.Future[None]] = {}
        self._on_place: dict[object, PlaceCallback] = {}
        self._places: dict[object, int] = {}
        self._telling: set[asyncio.Task[None]] = set()  # place updates under way

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @contextlib.asynccontextmanager
    async def turn(
        self, user: Hashable, on_place: PlaceCallback | None = None
    ) -> AsyncIterator[None]:
        """Hold a slot for the body; wait fairly for one first if all are taken."""
        await self._acquire(user, on_place)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, user: Hashable, on_place: PlaceCallback | None) -> None:
        ticket = object()
        if self.holding < self.capacity and not self._queue:
            self.holding += 1
            # Through the line all the same: a free slot uses the user's turn too.
            self._queue.add(user, ticket)
            self._queue.pop_next()
            return
        granted = asyncio.get_running_loop().create_future()
        self._granted[ticket] = granted
        if on_place is not None:
            self._on_place[ticket] = on_place
        self._queue.add(user, ticket)
        await self._tell_places()
        try:
            await granted
        except BaseException:
            if not self._queue.remove(ticket) and granted.done() and not granted.cancelled():
                self._release()  # granted as we were cancelled: pass the slot on
            self._forget(ticket)
            await self._tell_places()
            raise
        self._forget(ticket)

    def _release(self) -> None:
        ticket = self._queue.pop_next()
        if ticket is None:
            self.holding -= 1
            if not self.holding:
                self._queue.forget_served()
            return
        self._granted[ticket].set_result(None)  # the slot passes straight on
        task = asyncio.get_running_loop().create_task(self._tell_places())
        self._telling.add(task)
        task.add_done_callback(self._telling.discard)

    def _forget(self, ticket: object) -> None:
        self._granted.pop(ticket, None)
        self._on_place.pop(ticket, None)
        self._places.pop(ticket, None)

    async def _tell_places(self) -> None:
        """Each waiting holder whose place changed is told its new place (a courtesy: a
        failing callback never affects the line)."""
        for place, ticket in enumerate(list(self._queue), start=1):
            if self._places.get(ticket) == place:
                continue
            self._places[ticket] = place
            callback = self._on_place.get(ticket)
            if callback is not None:
                with contextlib.suppress(Exception):
                    await callback(place)
