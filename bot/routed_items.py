"""Buttons, selects and modals that any instance can serve, through the answering path.

discord.py gives component presses to its view store and modal submits to the modal
that was sent, never to the command tree, so neither passes the tree's gate. These
bases put them on the one answering path (`bot.answering`):

- `RoutedItem` is mixed into a `discord.ui.DynamicItem` (persistent: the state a press
  needs travels in the custom id, so a press works after a restart and on any
  instance). Its press routes by the channel it happens in, as `area_command` would.
- `RoutedModal` subclasses carry a `template` for their custom id too; the bot handles
  every modal submit itself (`MultiInstanceBot.on_interaction`), so the submit of a
  modal one instance sent can be served by another.

See ARCHITECTURE.md, "One answering path".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

import discord

from bot.answering import has_original_response, interaction_event, reply_error

if TYPE_CHECKING:
    from bot.answering import AnswerPath


def answer_path(interaction: discord.Interaction) -> AnswerPath:
    return interaction.client.answers  # type: ignore[attr-defined,no-any-return]


class RoutedItem:
    """Mixin for a `DynamicItem`: its press is routed, claimed, counted and error-mapped.

    Subclasses set `area_command` (the command whose area the press belongs to) and
    implement `on_press`. Keep it before `DynamicItem` in the bases.
    """

    area_command: ClassVar[str]

    async def callback(self, interaction: discord.Interaction) -> None:
        event = interaction_event(interaction, interaction.client, command=self.area_command)
        await answer_path(interaction).handle(
            event,
            lambda: self.on_press(interaction),
            lambda message: reply_error(interaction, message),
            interaction.response.is_done,
            lambda: has_original_response(interaction),
        )

    async def on_press(self, interaction: discord.Interaction) -> None:
        raise NotImplementedError


class RoutedModal(discord.ui.Modal):
    """A modal whose submit any instance can serve; state travels in the custom id.

    Subclasses set `template` (a regex the custom id fully matches), `area_command`,
    build themselves from a submit in `from_submit`, and answer in `on_routed_submit`
    with the submitted text inputs by custom id. They must not override `on_submit`:
    discord.py still calls it on the instance that sent the modal, outside the path.
    """

    template: ClassVar[re.Pattern[str]]
    area_command: ClassVar[str]

    @classmethod
    def from_submit(cls, interaction: discord.Interaction, match: re.Match[str]) -> RoutedModal:
        raise NotImplementedError

    async def on_routed_submit(
        self, interaction: discord.Interaction, values: dict[str, str]
    ) -> None:
        raise NotImplementedError


def submitted_values(data: dict[str, Any]) -> dict[str, str]:
    """Text input values of a modal submit payload, by custom id."""
    values: dict[str, str] = {}
    for row in data.get("components", []):
        for component in row.get("components", [row]):
            if "custom_id" in component and "value" in component:
                values[str(component["custom_id"])] = str(component["value"])
    return values


async def dispatch_routed_modal(
    interaction: discord.Interaction, modals: list[type[RoutedModal]]
) -> bool:
    """Serve a modal submit through the answering path; False if no modal class matches."""
    data: dict[str, Any] = dict(interaction.data or {})  # type: ignore[arg-type]
    custom_id = str(data.get("custom_id", ""))
    found = next(
        ((cls, m) for cls in modals if (m := cls.template.fullmatch(custom_id)) is not None), None
    )
    if found is None:
        return False
    modal_cls, match = found
    event = interaction_event(interaction, interaction.client, command=modal_cls.area_command)

    async def work() -> None:
        modal = modal_cls.from_submit(interaction, match)
        await modal.on_routed_submit(interaction, submitted_values(data))

    await answer_path(interaction).handle(
        event,
        work,
        lambda message: reply_error(interaction, message),
        interaction.response.is_done,
        lambda: has_original_response(interaction),
    )
    return True
