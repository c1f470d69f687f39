"""How a streamed answer is shown on Discord: pages, the writing marker, and when to edit.

Pure (no Discord, no I/O, no clock of its own), so the cog only feeds it the text so far
and the time, and applies the returned updates. Learnt from jakobdylanc/llmcord's
streaming loop (reserve the indicator inside the limit, edit at a fixed cadence, continue
in a new message), recast as functions of (text, clock) so they can be property-tested.

Lengths are Python `len` (code points): that is what Discord's 2000-character limit
counts (Discord staff, discord/discord-api-docs#1315).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

DISCORD_LIMIT = 2000
# Every page is shown while streaming with the marker, so its length is reserved on every
# page, done or not: dropping the marker at the end then never moves a page boundary.
WRITING_MARKER = " ✍️"
WRITING_PLACEHOLDER = "✍️ 답변을 쓰는 중…"
EMPTY_ANSWER = "(빈 답변)"

_FENCE = "```"
# Appended to a page that ends inside a code block. It is reserved on every page (not only
# on pages that need it): whether a page needs it depends on text that may not have
# arrived yet, and the decision to end a page must never be taken back.
_CLOSE = "\n" + _FENCE
# A fence line: up to 8 spaces or tabs (fences inside list items), then three backticks.
# Bounded so that the first few characters of a line decide whether it is one.
_FENCE_LINE = re.compile(r"[ \t]{0,8}```")
# Only a plain language tag is repeated when a block is reopened on the next page; a long
# or odd info string would eat the page and is not worth reproducing.
_MAYBE_FENCE = re.compile(r"[ \t]{0,8}`")
# The unfinished last line of the text that may still turn into a fence line.
_UNDECIDED_FENCE = re.compile(r"[ \t]{0,8}`{0,2}")
_LANG = re.compile(r"[A-Za-z0-9_+#.\-]{1,16}")
_MAX_OPENER = len(_FENCE) + 16 + 1
# The smallest limit for which every page still holds some text after the fences (and the
# whole start of a fence line, so a page can always tell whether it holds one).
MIN_LIMIT = _MAX_OPENER + len(_CLOSE) + 16

# Sentence ends. Western ones (also after Korean: `다. `, `요? `) need whitespace after
# them, so `3.14` or `v1.2` are not sentence ends; CJK full stops need nothing after them.
_SENTENCE_END = frozenset(".!?…")
_CJK_SENTENCE_END = frozenset("。！？")
# Characters that belong to the character before them: a hard cut never lands before one.
_JOINERS = frozenset("\u200d\ufe0e\ufe0f")


@dataclass(frozen=True)
class _Span:
    """One page: the body `text[start:end]`, reopened in `reopen`'s block and/or closed."""

    start: int
    end: int
    reopen: str | None  # language of the block reopened at the top ("" = bare), or None
    close: bool  # whether the page ends inside a block and `_CLOSE` is appended


def _fence_info(line: str) -> str | None:
    """The info string after the backticks if `line` is a fence line, else None."""
    match = _FENCE_LINE.match(line)
    return None if match is None else line[match.end() :]


def _open_fence_at(text: str, pos: int) -> str | None:
    """The language of the code block open at `pos` ("" if bare), or None outside blocks.

    Reads only `text[:pos]`, a partial last line included, so a page's closing decision
    depends on nothing after the page. Like Discord, any fence line ends an open block; a
    line like "```x```" that closes itself opens none.
    """
    lang: str | None = None
    line_start = 0
    while line_start <= pos:
        newline = text.find("\n", line_start, pos)
        line = text[line_start : pos if newline == -1 else newline]
        info = _fence_info(line)
        if info is not None:
            if lang is not None:
                lang = None
            elif _FENCE not in info:
                tag = info.strip().split(maxsplit=1)
                lang = tag[0] if tag and _LANG.fullmatch(tag[0]) else ""
        if newline == -1:
            break
        line_start = newline + 1
    return lang


def _opener(lang: str) -> str:
    return f"{_FENCE}{lang}\n"


def _is_joiner(char: str) -> bool:
    code = ord(char)
    return (
        char in _JOINERS
        or unicodedata.combining(char) != 0
        or 0x1160 <= code <= 0x11FF  # Hangul medial/final jamo continue a syllable
        or 0x1F3FB <= code <= 0x1F3FF  # emoji skin tones
    )


def _cuttable(text: str, start: int, cut: int) -> bool:
    """Whether a page may end at `cut` (exclusive) with a soft break."""
    if not text[start:cut].strip():
        return False
    line_start = text.rfind("\n", 0, cut) + 1
    if _fence_info(text[line_start:cut]) is None:
        return True
    # Never inside a fence line; at its end only if it closed a block, so a page never
    # ends with a bare opening fence (an empty block) and the tag is never split.
    return text[cut] == "\n" and _open_fence_at(text, cut) is None


def _soft_cuts(window: str, low: int, high: int) -> Iterator[int]:
    """Candidate page ends in [low, high], best kind first and latest first within a kind."""
    yield from (i for i in range(high - 1, low - 1, -1) if window.startswith("\n\n", i))
    yield from (i for i in range(high, low - 1, -1) if window[i] == "\n")
    for i in range(high, max(low, 1) - 1, -1):
        before = window[i - 1]
        if before in _CJK_SENTENCE_END or (
            before in _SENTENCE_END
            and window[i].isspace()
            and not (before == "." and i >= 2 and window[i - 2].isdigit())  # "1. 항목"
        ):
            yield i
    yield from (i for i in range(high, low - 1, -1) if window[i].isspace())


def _choose_cut(window: str, start: int, budget: int) -> int:
    """Where the page starting at `start` ends, reading only `window`.

    `window` is the text up to `start + budget` inclusive: the page itself plus one
    character to see what follows its last position. Nothing later can change the answer,
    which is what makes pages stable while the text grows.
    """
    high = start + budget
    # A break in the first half of the window would leave a wastefully short page; a
    # slightly worse break (or a hard cut) further on is better.
    low = start + max(1, budget // 2)
    for cut in _soft_cuts(window, low, high):
        if _cuttable(window, start, cut):
            return cut
    cut = high
    for _ in range(8):  # never split an emoji or a syllable from what joins it
        if cut - 1 > start and (_is_joiner(window[cut]) or window[cut - 1] == "\u200d"):
            cut -= 1
    line_start = window.rfind("\n", 0, cut) + 1
    if (
        line_start > start
        and _MAYBE_FENCE.match(window, line_start)
        and window[start:line_start].strip()
    ):
        cut = line_start  # a fence line (or what may become one) is never cut in two
    return cut


def _gap_end(text: str, at: int) -> int:
    """Where the next page starts after the whitespace at `at`, or len(text) if none yet.

    All whitespace is dropped except the indentation of the line the next page starts
    with: code keeps its indentation, and a nested list item stays nested.
    """
    end = at
    while end < len(text) and text[end].isspace():
        end += 1
    if end == len(text):
        return end
    newline = text.rfind("\n", at, end)
    return end if newline == -1 else newline + 1


def _layout(text: str, limit: int, *, complete: bool = False) -> list[_Span]:
    """The pages of `text`; `complete` when no more text will come (see the held-back case)."""
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must be at least {MIN_LIMIT}, got {limit}")
    spans: list[_Span] = []
    start = _gap_end(text, 0)
    reopen: str | None = None
    while start < len(text):
        if reopen is not None:
            newline = text.find("\n", start)
            line = text[start : len(text) if newline == -1 else newline]
            if _fence_info(line) is not None:
                # The block's own closing fence would open this page, as a lone "```x\n```"
                # that Discord shows as raw backticks: the previous page's close stands for it.
                reopen = None
                start = len(text) if newline == -1 else _gap_end(text, newline)
                continue
            if newline == -1 and not complete and _UNDECIDED_FENCE.fullmatch(line):
                # "``" may still become that closing fence: showing it now could mean a page
                # that later has to vanish, and a sent message cannot be taken back.
                break
        budget = limit - len(_CLOSE) - (0 if reopen is None else len(_opener(reopen)))
        if len(text) - start <= budget:
            # The last page: it may still grow or be cut, so anything goes here.
            end = start + len(text[start:].rstrip())
            spans.append(_Span(start, end, reopen, _open_fence_at(text, end) is not None))
            break
        # The rest no longer fits and never will again: end this page for good.
        cut = _choose_cut(text[: start + budget + 1], start, budget)
        end = start + len(text[start:cut].rstrip())
        if end == start:
            # Only indentation fits (deeper than a page): drop it rather than show nothing.
            start += len(text[start:]) - len(text[start:].lstrip())
            continue
        state = _open_fence_at(text, end)
        spans.append(_Span(start, end, reopen, state is not None))
        start = _gap_end(text, end)
        reopen = state
    return spans


def _page(text: str, span: _Span) -> str:
    head = "" if span.reopen is None else _opener(span.reopen)
    return head + text[span.start : span.end] + (_CLOSE if span.close else "")


def split_pages(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """Split `text` into pages of at most `limit` characters.

    A page ends, by preference, at a blank line, a line break, a sentence end, a space,
    else anywhere (never inside a fence line, never before a joining character). A soft
    break is only taken in the second half of the page. A page that ends inside a code
    block is closed with "\\n```", and the next page reopens it with the same language.

    Guarantees:
    - every page is non-blank and at most `limit` long; `[]` for blank text;
    - every page has an even number of fence lines (fences balanced);
    - without the added fences, the pages are the text with only whitespace removed
      between them (and around the whole text). A removed run that spans a line break
      stops at its last one, so the next page keeps its line's indentation (unless that
      indentation alone is longer than a page). Two fence exceptions: a block's closing
      fence that would open the next page is dropped, the previous page's added close
      standing for it (a page holding only "```x\\n```" shows as raw backticks); and a
      trailing "`" or "``" at the top of such a page is held back until it is known
      whether it becomes that fence (`render(..., done=True)` shows it);
    - prefix stability: if `text` grows by appending, every page but the last stays the
      same, and the number of pages never decreases. A page's end depends only on its own
      window (`limit` minus the fences) plus one character.
    """
    return [_page(text, span) for span in _layout(text, limit)]


def render(
    text: str, *, done: bool, limit: int = DISCORD_LIMIT, note: str | None = None
) -> list[str]:
    """The pages to show now for an answer whose text so far is `text`.

    While not done the last page ends with `WRITING_MARKER` (blank text shows
    `WRITING_PLACEHOLDER`). When done the marker is gone and `note`, if any, follows the
    text as its own paragraph, on new pages if the last page cannot hold it (blank text
    shows `EMPTY_ANSWER`). Pages before the last are the same done or not, and a done
    rendering has at least as many pages as any rendering of a prefix of its text, so a
    shown message is only ever edited, never taken back.
    """
    spans = _layout(text, limit - len(WRITING_MARKER), complete=done)
    pages = [_page(text, span) for span in spans]
    if not done:
        if not pages:
            return [WRITING_PLACEHOLDER]
        pages[-1] += WRITING_MARKER
        return pages
    pages = pages or [EMPTY_ANSWER]
    if note is not None and note.strip():
        joined = f"{pages[-1]}\n\n{note.strip()}"
        if len(joined) <= limit:
            pages[-1] = joined
        else:
            pages += split_pages(note, limit)
    return pages


@dataclass(frozen=True)
class Update:
    """Show `content` as page `index`: edit its message, or send it as a new message."""

    index: int
    content: str
    kind: Literal["send", "edit"]


def _check(shown: Sequence[str], wanted: Sequence[str], last_edit_at: Sequence[float]) -> None:
    if len(last_edit_at) != len(shown):
        raise ValueError("last_edit_at needs one time per shown page")
    if len(shown) > len(wanted):
        raise ValueError("a page already shown cannot be taken back")


def plan_updates(
    shown: Sequence[str],
    wanted: Sequence[str],
    last_edit_at: Sequence[float],
    now: float,
    interval: float,
    *,
    final: bool,
) -> list[Update]:
    """What to send or edit now to move the messages from `shown` towards `wanted`.

    `shown[i]` is what message `i` displays and `last_edit_at[i]` when it was last sent
    or edited (the caller records `now` for every update it applies, sends included).
    A differing page is edited only once `interval` has passed since its last write, in
    every mode: that is the per-message cadence. A missing page is sent (not subject to
    the cadence) only once the page before it shows its final content, so at most one
    message is in progress; outside `final` only one new message per call. Apply the
    updates in order; when none are returned, wait until `next_due(...)`.
    """
    _check(shown, wanted, last_edit_at)
    updates: list[Update] = []
    previous_complete = True  # no page shown yet: the first one may be sent
    for index, (have, want) in enumerate(zip(shown, wanted, strict=False)):
        if have == want:
            previous_complete = True
        elif now >= last_edit_at[index] + interval:
            # The same sum as in next_due: `now - at >= interval` can be false at the very
            # time next_due named (1.9 - 0.9 < 1.0), and the caller would wait forever.
            updates.append(Update(index, want, "edit"))
            previous_complete = True
        else:
            previous_complete = False
    for index in range(len(shown), len(wanted)):
        if not previous_complete:
            break
        # A sent page shows its wanted content, so the one after it may follow at once.
        updates.append(Update(index, wanted[index], "send"))
        if not final:
            break
    return updates


def next_due(
    shown: Sequence[str],
    wanted: Sequence[str],
    last_edit_at: Sequence[float],
    now: float,
    interval: float,
) -> float | None:
    """When `plan_updates` next has something to do: None once `shown == wanted`, else the
    earliest time at or after `now` when a held-back edit (or a send waiting on it) may go.
    """
    _check(shown, wanted, last_edit_at)
    if list(shown) == list(wanted):
        return None
    pairs = zip(shown, wanted[: len(shown)], last_edit_at, strict=True)
    due = [t + interval for have, want, t in pairs if have != want]
    if len(shown) < len(wanted) and (not shown or shown[-1] == wanted[len(shown) - 1]):
        due.append(now)  # a send is ready
    return max(now, min(due))
