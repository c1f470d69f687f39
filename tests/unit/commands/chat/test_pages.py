"""commands/chat/_pages.py: pages of a streamed answer, its rendering, and the edit planner."""

from __future__ import annotations

import ast
import re
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.chat import _pages
from commands.chat._pages import (
    EMPTY_ANSWER,
    MIN_LIMIT,
    WRITING_MARKER,
    WRITING_PLACEHOLDER,
    Update,
    next_due,
    plan_updates,
    render,
    split_pages,
)

FENCE_LINE = re.compile(r"^[ \t]{0,8}```", re.MULTILINE)


def balanced(page: str) -> bool:
    return len(FENCE_LINE.findall(page)) % 2 == 0


# --- split_pages: literal tables ------------------------------------------------------------
# At limit 40 a page outside a code block holds 36 characters of text: 4 are reserved for a
# closing fence the page may need. Soft breaks count only in the second half (from 18 on).

SPLITS = {
    "paragraph beats a later sentence end and spaces": (
        40,
        "Alpha beta gamma delta.\n\nEpsilon zeta. Eta theta iota kappa.",
        ["Alpha beta gamma delta.", "Epsilon zeta. Eta theta iota kappa."],
    ),
    "line break beats spaces": (
        40,
        "first line is here\nsecond line goes on and on and on",
        ["first line is here", "second line goes on and on and on"],
    ),
    "Korean sentence end beats later spaces": (
        40,
        "오늘은 날씨가 정말 좋네요. 산책하러 나갈까요? 아니면 집에서 쉴까요.",
        ["오늘은 날씨가 정말 좋네요. 산책하러 나갈까요?", "아니면 집에서 쉴까요."],
    ),
    "a paragraph break in the first half is passed over for a sentence end": (
        40,
        "첫 문단입니다. 짧아요.\n\n둘째 문단은 조금 더 깁니다. 그리고 계속 이어집니다.",
        ["첫 문단입니다. 짧아요.\n\n둘째 문단은 조금 더 깁니다.", "그리고 계속 이어집니다."],
    ),
    "space": (
        40,
        "one two three four five six seven eight nine ten eleven twelve",
        ["one two three four five six seven", "eight nine ten eleven twelve"],
    ),
    "a numbered item is no sentence end": (
        40,
        "Steps to follow now: 1. open 2. read it all",
        ["Steps to follow now: 1. open 2. read", "it all"],
    ),
    "hard cut in Korean without spaces": (
        40,
        "가" * 100,
        ["가" * 36, "가" * 36, "가" * 28],
    ),
    "a hard cut never separates an emoji from its variation selector": (
        40,
        "a" * 35 + "✍️" + "b" * 10,
        ["a" * 35, "✍️" + "b" * 10],
    ),
    "fence closed and reopened with its language (cut at a line break)": (
        40,
        "Code:\n```py\nx = 1\ny = 2\nz = 3\nw = 4\nv = 5\nu = 6\n```\nDone.",
        [
            "Code:\n```py\nx = 1\ny = 2\nz = 3\nw = 4\n```",
            "```py\nv = 5\nu = 6\n```\nDone.",
        ],
    ),
    "fence cut at a blank line between functions": (
        60,
        "Intro line\n```python\ndef f(x):\n    return x + 1\n\n"
        "def g(y):\n    return y * 2\n```\nAfter the code.",
        [
            "Intro line\n```python\ndef f(x):\n    return x + 1\n```",
            "```python\ndef g(y):\n    return y * 2\n```\nAfter the code.",
        ],
    ),
    "indentation kept on the reopened page, the block's own close absorbed": (
        40,
        "```\nfor x in xs:\n    if x:\n        print(x)\n        go(x)\n```",
        [
            "```\nfor x in xs:\n    if x:\n```",
            "```\n        print(x)\n        go(x)\n```",
        ],
    ),
    "never cut right after an opening fence line": (
        40,
        "Some words before the block\n```js\nlet a = 1;\n```",
        ["Some words before the block", "```js\nlet a = 1;\n```"],
    ),
    "fits: only the whole text's outer whitespace goes, indentation stays": (
        40,
        "\n\n  hello  \n",
        ["  hello"],
    ),
    "an unfinished block is closed on the last page": (
        40,
        "```py\nprint(1)",
        ["```py\nprint(1)\n```"],
    ),
}


@pytest.mark.parametrize(("limit", "text", "expected"), SPLITS.values(), ids=SPLITS.keys())
def test_split_pages_table(limit, text, expected):
    assert split_pages(text, limit) == expected


@pytest.mark.parametrize("text", ["", " ", "\n\n \t\n"])
def test_blank_text_has_no_pages(text):
    assert split_pages(text, 40) == []


def test_the_limit_leaves_room_for_the_fences():
    with pytest.raises(ValueError, match="at least"):
        split_pages("x", MIN_LIMIT - 1)


def test_a_closing_fence_that_may_still_come_is_held_back_while_streaming():
    head = "```\nfor x in xs:\n    if x:\n        print(x)\n        go(x)\n"
    two_pages = ["```\nfor x in xs:\n    if x:\n```", "```\n        print(x)\n        go(x)\n```"]
    # "``" at the top of the reopened page may become the block's closing fence...
    assert split_pages(head + "``", 40) == two_pages
    # ...which the previous page's added close then stands for.
    assert split_pages(head + "```", 40) == two_pages
    # A finished answer shows it: "``" is text, not a fence.
    assert render(head + "``", done=True, limit=43) == [*two_pages, "```\n``\n```"]


# --- render -----------------------------------------------------------------------------------
NOTE = "답변이 중간에 끊겼어요: 시간 초과"  # 19 characters
RENDERS = {
    "empty while writing": ("", False, None, [WRITING_PLACEHOLDER]),
    "blank while writing": (" \n", False, None, [WRITING_PLACEHOLDER]),
    "empty when done": ("", True, None, [EMPTY_ANSWER]),
    "empty when done, with a note": ("", True, NOTE, [f"{EMPTY_ANSWER}\n\n{NOTE}"]),
    "writing": ("안녕하세요.", False, None, ["안녕하세요. ✍️"]),
    "done": ("안녕하세요.", True, None, ["안녕하세요."]),
    "the note is ignored while writing": ("안녕하세요.", False, NOTE, ["안녕하세요. ✍️"]),
    "note fits on the last page": ("안녕하세요.", True, NOTE, [f"안녕하세요.\n\n{NOTE}"]),
    "note does not fit: a page of its own": (
        "가나다라마바사아자차카타파하 가나다라마바사아자차카타파하",
        True,
        NOTE,
        ["가나다라마바사아자차카타파하 가나다라마바사아자차카타파하", NOTE],
    ),
    "the marker's room is reserved: 36 fit at limit 43": ("a" * 36, False, None, ["a" * 36 + " ✍️"]),
    "the marker's room is reserved: 37 do not": ("a" * 37, False, None, ["a" * 36, "a ✍️"]),
    "same pages when done": ("a" * 37, True, None, ["a" * 36, "a"]),
    "marker after an unfinished block": (
        "```py\nprint(1)",
        False,
        None,
        ["```py\nprint(1)\n``` ✍️"],
    ),
}


@pytest.mark.parametrize(("text", "done", "note", "expected"), RENDERS.values(), ids=RENDERS.keys())
def test_render_table(text, done, note, expected):
    # 43: the marker's 3 characters, then pages split as in the table above at 40.
    assert render(text, done=done, limit=43, note=note) == expected


def test_render_defaults_to_discords_limit():
    pages = render("가 " * 1500, done=False)
    assert [len(p) for p in pages] == [1993, 1005 + len(WRITING_MARKER)]
    assert all(len(p) <= 2000 for p in pages)


# --- plan_updates / next_due ------------------------------------------------------------------


def test_first_page_is_sent_at_once():
    assert plan_updates([], ["a ✍️"], [], 0.0, 1.0, final=False) == [Update(0, "a ✍️", "send")]
    assert next_due([], ["a ✍️"], [], 0.0, 1.0) == 0.0


def test_an_edit_waits_for_the_cadence():
    shown, wanted, at = ["a ✍️"], ["ab ✍️"], [0.0]
    assert plan_updates(shown, wanted, at, 0.5, 1.0, final=False) == []
    assert next_due(shown, wanted, at, 0.5, 1.0) == 1.0
    assert plan_updates(shown, wanted, at, 1.0, 1.0, final=False) == [Update(0, "ab ✍️", "edit")]


def test_a_new_page_waits_until_the_previous_one_is_complete():
    shown, wanted, at = ["a ✍️"], ["a", "b ✍️"], [0.0]
    assert plan_updates(shown, wanted, at, 0.5, 1.0, final=False) == []
    assert next_due(shown, wanted, at, 0.5, 1.0) == 1.0
    assert plan_updates(shown, wanted, at, 1.0, 1.0, final=False) == [
        Update(0, "a", "edit"),
        Update(1, "b ✍️", "send"),
    ]


def test_one_new_message_per_call_unless_final():
    wanted = ["a", "b", "c ✍️"]
    assert plan_updates([], wanted, [], 0.0, 1.0, final=False) == [Update(0, "a", "send")]
    assert plan_updates(["a"], wanted, [0.0], 0.0, 1.0, final=False) == [Update(1, "b", "send")]
    assert plan_updates([], wanted, [], 0.0, 1.0, final=True) == [
        Update(0, "a", "send"),
        Update(1, "b", "send"),
        Update(2, "c ✍️", "send"),
    ]


def test_final_still_holds_back_an_edit_to_a_recently_edited_message():
    shown, wanted, at = ["a", "b ✍️"], ["a!", "b", "c"], [0.0, 0.9]
    assert plan_updates(shown, wanted, at, 1.0, 1.0, final=True) == [Update(0, "a!", "edit")]
    assert next_due(["a!", "b ✍️"], wanted, [1.0, 0.9], 1.0, 1.0) == pytest.approx(1.9)
    assert plan_updates(["a!", "b ✍️"], wanted, [1.0, 0.9], 1.9, 1.0, final=True) == [
        Update(1, "b", "edit"),
        Update(2, "c", "send"),
    ]


def test_nothing_to_do_when_shown_equals_wanted():
    assert plan_updates(["a"], ["a"], [0.0], 0.1, 1.0, final=True) == []
    assert next_due(["a"], ["a"], [0.0], 0.1, 1.0) is None


def test_shown_pages_cannot_outnumber_wanted_ones():
    with pytest.raises(ValueError, match="taken back"):
        plan_updates(["a", "b"], ["a"], [0.0, 0.0], 1.0, 1.0, final=True)
    with pytest.raises(ValueError, match="one time per shown page"):
        next_due(["a"], ["a"], [], 1.0, 1.0)


class FakeChannel:
    """Applies updates the way the cog will, recording every write with the fake clock."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.shown: list[str] = []
        self.at: list[float] = []
        self.writes: list[list[float]] = []

    def step(self, wanted: list[str], now: float, *, final: bool) -> list[Update]:
        updates = plan_updates(self.shown, wanted, self.at, now, self.interval, final=final)
        sends = [u for u in updates if u.kind == "send"]
        assert final or len(sends) <= 1
        for update in updates:
            assert len(update.content) <= 2000 and update.content.strip()
            if update.kind == "send":
                assert update.index == len(self.shown)
                self.shown.append(update.content)
                self.at.append(now)
                self.writes.append([now])
            else:
                assert self.shown[update.index] != update.content, "a no-op edit"
                assert now >= self.at[update.index] + self.interval
                self.shown[update.index] = update.content
                self.at[update.index] = now
                self.writes[update.index].append(now)
        return updates

    def finish(self, wanted: list[str], now: float) -> float:
        for _ in range(1000):
            if not self.step(wanted, now, final=True):
                due = next_due(self.shown, wanted, self.at, now, self.interval)
                if due is None:
                    return now
                assert due > now, "next_due promised work that plan_updates did not give"
                now = due
        raise AssertionError("the final updates never settled")

    def assert_cadence(self) -> None:
        for times in self.writes:
            assert all(b >= a + self.interval for a, b in pairwise(times))


def stream(channel: FakeChannel, text: str, cuts: list[int], times: list[float], **kw) -> float:
    limit = kw.get("limit", 2000)
    for cut, now in zip(cuts, times, strict=True):
        channel.step(render(text[:cut], done=False, limit=limit), now, final=False)
    return channel.finish(render(text, done=True, **kw), times[-1] if times else 0.0)


def long_answer() -> str:
    intro = "파이썬으로 목록을 정리하는 방법을 설명할게요. 먼저 기본부터 봅시다.\n\n" * 30
    code = "```python\n" + "".join(
        f"def step_{i}(items):\n    return sorted(items)[{i}:]\n\n" for i in range(60)
    )
    outro = "```\n\n" + "이렇게 하면 됩니다. 더 궁금한 점이 있으면 물어보세요! " * 30
    return intro + code + outro


def test_a_long_answer_with_code_streams_into_balanced_pages_at_the_cadence():
    text = long_answer()
    assert 4500 < len(text) < 5500 and "```python" in text[1000:2000]
    cuts = [*range(0, len(text), 23), len(text)]
    times = [0.05 * i for i in range(len(cuts))]
    channel = FakeChannel(interval=1.0)
    stream(channel, text, cuts, times)
    final = render(text, done=True)
    assert channel.shown == final
    assert len(final) == 3
    assert all(len(p) <= 2000 and balanced(p) for p in final)
    assert final[1].startswith("```python\n") and final[0].endswith("\n```")
    channel.assert_cadence()
    assert max(len(w) for w in channel.writes) > 5  # it really streamed by editing


def test_a_cut_answer_ends_with_its_note():
    text = long_answer()[:2500]
    channel = FakeChannel(interval=1.0)
    stream(channel, text, [1000, 2500], [0.0, 0.3], note=NOTE)
    assert channel.shown == render(text, done=True, note=NOTE)
    assert channel.shown[-1].endswith(f"\n\n{NOTE}") and WRITING_MARKER not in channel.shown[-1]


# --- properties -------------------------------------------------------------------------------
# Fences only as whole lines (as models write them), so a page's fence lines can be counted.
PIECES = [
    "안녕하세요",
    "좋아요",
    "다. ",
    "요. ",
    "word",
    "Hi",
    " ",
    " ",
    "\n",
    "\n\n",
    ". ",
    "? ",
    "!",
    "。",
    "3.14",
    "1. ",
    "`x`",
    "    ",
    "\t",
    "✍️",
    "e\u0301",
    "supercalifragilistic",
    "\n```python\n",
    "\n```\n",
    "\n   ```js\n",
    "\n```\n\n",
]
texts = st.lists(st.sampled_from(PIECES), max_size=80).map("".join)


@st.composite
def growing(draw):
    text = draw(texts)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=25)))
    return text, [*cuts, len(text)]


def assert_gap(gap: str, *, may_hold_fence: bool) -> None:
    if may_hold_fence and gap.strip():
        # The block's own closing fence, stood in for by the previous page's added close.
        lines = [line for line in gap.split("\n") if line.strip()]
        assert len(lines) == 1 and FENCE_LINE.match(lines[0]), gap
        return
    assert not gap.strip(), f"text lost between pages: {gap!r}"
    if "\n" in gap:
        # Dropped whitespace stops at the last line break: the indentation stays...
        dropped_indent = gap.rsplit("\n", 1)[1]
        # ...unless it is deeper than a whole page.
        assert dropped_indent == "" or len(dropped_indent) >= 16


def assert_pages(text: str, limit: int) -> list[str]:
    pages = split_pages(text, limit)
    spans = _pages._layout(text, limit)
    assert len(spans) == len(pages)
    position, previous = 0, None
    for span, page in zip(spans, pages, strict=True):
        assert 0 < len(page) <= limit and page.strip()
        assert balanced(page), page
        head = "" if span.reopen is None else f"```{span.reopen}\n"
        assert page == head + text[span.start : span.end] + ("\n```" if span.close else "")
        if previous is not None:
            assert (span.reopen is not None) <= previous.close
        absorbed = previous is not None and previous.close and span.reopen is None
        assert_gap(text[position : span.start], may_hold_fence=absorbed)
        position, previous = span.end, span
    tail = text[position:]
    if tail.strip() and previous is not None and previous.close:
        # Either the block's closing fence, or "`"/"``" not yet known to be one.
        assert re.fullmatch(r"\s*[ \t]{0,8}`+[^\n]*\s*", tail), tail
    else:
        assert not tail.strip(), f"text lost at the end: {tail!r}"
    return pages


@settings(max_examples=300, deadline=None)
@given(growing(), st.integers(MIN_LIMIT, 90))
def test_pages_are_prefix_stable_bounded_and_balanced(grown, limit):
    text, cuts = grown
    before: list[str] = []
    for cut in cuts:
        pages = assert_pages(text[:cut], limit)
        assert len(pages) >= len(before)
        assert pages[: len(before)][:-1] == before[:-1], "an earlier page changed"
        before = pages


@settings(max_examples=200, deadline=None)
@given(growing(), st.integers(MIN_LIMIT + 3, 90), st.sampled_from([None, NOTE]))
def test_rendering_only_ever_edits_or_adds_pages(grown, limit, note):
    text, cuts = grown
    before: list[str] = []
    for cut in cuts:
        pages = render(text[:cut], done=False, limit=limit)
        assert pages[-1].endswith(WRITING_MARKER) or pages == [WRITING_PLACEHOLDER]
        assert all(0 < len(p) <= limit and p.strip() and balanced(p) for p in pages)
        assert len(pages) >= len(before) and pages[: len(before)][:-1] == before[:-1]
        before = pages
    done = render(text, done=True, limit=limit, note=note)
    assert all(0 < len(p) <= limit and p.strip() and balanced(p) for p in done)
    assert len(done) >= len(before) and done[: len(before)][:-1] == before[:-1]
    assert not any(WRITING_MARKER in p for p in done) or WRITING_MARKER in text


@settings(max_examples=150, deadline=None)
@given(
    growing(),
    st.integers(MIN_LIMIT + 3, 90),
    st.sampled_from([0.5, 1.0, 1.3]),
    st.lists(st.floats(0.0, 1.5), min_size=30, max_size=30),
    st.sampled_from([None, NOTE]),
)
def test_the_planner_converges_to_the_final_rendering_at_the_cadence(
    grown, limit, interval, gaps, note
):
    text, cuts = grown
    times = [sum(gaps[: i + 1]) for i in range(len(cuts))]
    channel = FakeChannel(interval)
    stream(channel, text, cuts, times, limit=limit, note=note)
    assert channel.shown == render(text, done=True, limit=limit, note=note)
    channel.assert_cadence()


def test_the_module_is_pure():
    source = Path(_pages.__file__).read_text(encoding="utf-8")
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add((node.module or ".").split(".")[0])
    assert found <= {"__future__", "re", "unicodedata", "collections", "dataclasses", "typing"}
