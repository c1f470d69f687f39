"""The fair queue: arrivals (and services, removals) -> order of service and positions.

Every expected order below is written out by hand from the rule in bot/fair_queue.py:
a user's waiting items take consecutive turns, starting at the turn being served now (or
the one after, for a user already served in it); by turn, then by arrival.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.fair_queue import FairQueue


def run(steps: str) -> tuple[FairQueue[str], list[str]]:
    """`steps`: space-separated `A1` (user A queues item A1), `-A2` (A2 is removed),
    `!` (the next item is served). Returns the queue and the items served."""
    queue: FairQueue[str] = FairQueue()
    served: list[str] = []
    for step in steps.split():
        if step == "!":
            item = queue.pop_next()
            assert item is not None
            served.append(item)
        elif step.startswith("-"):
            assert queue.remove(step[1:])
        else:
            queue.add(step[0], step)
    return queue, served


@pytest.mark.parametrize(
    ("steps", "served", "order"),
    [
        # A pile of one user's jobs does not hold back a later user's single job.
        ("A1 A2 A3 B1", [], ["A1", "B1", "A2", "A3"]),
        # Three users interleaved: one job each per turn, users in order of arrival.
        ("A1 B1 A2 C1 B2 A3 C2", [], ["A1", "B1", "C1", "A2", "B2", "C2", "A3"]),
        ("A1 A2 A3 A4 B1 B2 C1", [], ["A1", "B1", "C1", "A2", "B2", "A3", "A4"]),
        # Within a turn, arrival decides (C2 came before B2).
        ("A1 B1 C1 A2 C2 B2", [], ["A1", "B1", "C1", "A2", "C2", "B2"]),
        # A's first job was served at once (a free slot): B, who has had no turn, goes first.
        ("A1 ! A2 A3 B1", ["A1"], ["B1", "A2", "A3"]),
        # C arrives after A1 and B1 were served: C has had no turn yet, so C goes next.
        ("A1 A2 A3 B1 B2 ! ! C1", ["A1", "B1"], ["C1", "A2", "B2", "A3"]),
        # ... and after A2 was served too (turn 1 under way): behind B2, ahead of A3.
        ("A1 A2 A3 B1 B2 ! ! ! C1", ["A1", "B1", "A2"], ["B2", "C1", "A3"]),
        # A user served this turn who comes back waits for the next turn.
        ("A1 ! B1 B2 A2", ["A1"], ["B1", "B2", "A2"]),
        # Arrivals between services: the whole service order.
        (
            "A1 A2 A3 A4 ! B1 B2 ! C1 ! ! ! ! !",
            ["A1", "B1", "C1", "A2", "B2", "A3", "A4"],
            [],
        ),
        # Anyone's removal shifts those behind; a user's own later jobs move up a turn.
        ("A1 B1 C1 -B1", [], ["A1", "C1"]),
        ("A1 A2 A3 B1 B2 -A2", [], ["A1", "B1", "A3", "B2"]),
        ("A1 A2 B1 -A1", [], ["A2", "B1"]),
        ("A1 ! A2 B1 -B1", ["A1"], ["A2"]),
        # Empty.
        ("", [], []),
        ("A1 !", ["A1"], []),
    ],
)
def test_order_of_service(steps, served, order):
    queue, popped = run(steps)
    assert popped == served
    assert list(queue) == order
    assert len(queue) == len(order)


@pytest.mark.parametrize(
    ("steps", "positions"),
    [
        ("A1 A2 A3 B1", {"A1": 1, "B1": 2, "A2": 3, "A3": 4}),
        ("A1 ! A2 A3 B1", {"B1": 1, "A2": 2, "A3": 3, "A1": None}),
        ("A1 A2 A3 B1 B2", {"A1": 1, "B1": 2, "A2": 3, "B2": 4, "A3": 5}),
        # Removing A2: A3 takes A's turn-1 place, ahead of B2.
        ("A1 A2 A3 B1 B2 -A2", {"A1": 1, "B1": 2, "A3": 3, "B2": 4, "A2": None}),
        # Removing the head: the others move up one.
        ("A1 B1 C1 -A1", {"B1": 1, "C1": 2, "A1": None}),
        ("A1 B1 C1 -B1", {"A1": 1, "C1": 2}),
        ("A1 A2 A3 B1 B2 ! ! C1", {"C1": 1, "A2": 2, "B2": 3, "A3": 4}),
        ("", {"A1": None}),
    ],
)
def test_positions(steps, positions):
    queue, _ = run(steps)
    assert {item: queue.position(item) for item in positions} == positions


def test_an_empty_queue():
    queue: FairQueue[str] = FairQueue()
    assert len(queue) == 0
    assert queue.pop_next() is None
    assert queue.position("A1") is None
    assert not queue.remove("A1")
    assert list(queue) == []
    assert "A1" not in queue


def test_jobs_without_a_user_are_one_anonymous_user():
    queue: FairQueue[str] = FairQueue()
    for user, item in [(None, "x1"), (None, "x2"), (7, "y1")]:
        queue.add(user, item)
    assert list(queue) == ["x1", "y1", "x2"]


def test_an_item_waits_once():
    queue: FairQueue[str] = FairQueue()
    queue.add("A", "A1")
    with pytest.raises(ValueError):
        queue.add("B", "A1")
    assert list(queue) == ["A1"]


@pytest.mark.parametrize(
    ("forget", "order"),
    [
        (False, ["B1", "A2"]),  # A was served this turn: B (no turn yet) first
        (True, ["A2", "B1"]),  # the history was dropped while idle: arrival decides
    ],
)
def test_forgetting_who_was_served(forget, order):
    queue, _ = run("A1 !")
    if forget:
        queue.forget_served()
    queue.add("A", "A2")
    queue.add("B", "B1")
    assert list(queue) == order


def test_forgetting_is_refused_while_items_wait():
    queue, _ = run("A1 ! A2")
    queue.forget_served()
    queue.add("B", "B1")
    assert list(queue) == ["B1", "A2"]


# ---- properties over any sequence of arrivals, services and removals ----

USERS = st.sampled_from(["A", "B", "C", "D", None])
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), USERS),
        st.tuples(st.just("pop"), st.none()),
        st.tuples(st.just("remove"), st.integers(0, 40)),
    ),
    max_size=60,
)


@given(STEPS)
def test_positions_pops_and_per_user_order_agree(steps):
    queue: FairQueue[int] = FairQueue()
    user_of: dict[int, str | None] = {}
    for number, (action, arg) in enumerate(steps):
        if action == "add":
            queue.add(arg, number)
            user_of[number] = arg
        elif action == "remove":
            queue.remove(arg)
        else:
            order = list(queue)
            assert queue.pop_next() == (order[0] if order else None)
        order = list(queue)
        assert [queue.position(item) for item in order] == list(range(1, len(order) + 1))
        assert len(queue) == len(order)
        for user in set(user_of.values()):
            mine = [item for item in order if user_of[item] == user]
            assert mine == sorted(mine), "a user's own jobs keep their order"
        # No starvation: a user's next job has at most two jobs of each other user ahead.
        heads = {user_of[item]: item for item in reversed(order)}
        for item in heads.values():
            assert queue.position(item) <= 2 * (len(heads) - 1) + 1
