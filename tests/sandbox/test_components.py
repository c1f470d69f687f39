"""Component presses, autocomplete and modal submits: the other interaction kinds."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from sandbox.discord import FakeDiscord, UnknownTarget

from .conftest import BotFactory, BotSetup

YES_NO = [
    {
        "type": 1,
        "components": [
            {"type": 2, "style": 1, "label": "예", "custom_id": "yes"},
            {"type": 2, "style": 4, "label": "아니오", "custom_id": "no"},
        ],
    }
]


async def post_message(
    fake: FakeDiscord, channel: str, body: dict[str, Any], token: str = "sandbox-instance-1"
) -> tuple[int, dict[str, Any]]:
    """A bot message sent over raw REST: (status, JSON answer)."""
    url = f"{fake.rest_url}/channels/{fake.channel_id(channel)}/messages"
    headers = {"Authorization": f"Bot {token}"}
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_components_are_stored_numbered_and_validated(fake: FakeDiscord) -> None:
    status, message = await post_message(
        fake, "general", {"content": "고르세요", "components": YES_NO}
    )

    assert status == 200
    assert message["components"] == [
        {
            "type": 1,
            "id": 1,
            "components": [
                {"type": 2, "style": 1, "label": "예", "custom_id": "yes", "id": 2},
                {"type": 2, "style": 4, "label": "아니오", "custom_id": "no", "id": 3},
            ],
        }
    ]
    assert fake.channel_messages("general")[-1]["components"] == message["components"]

    twice = [{"type": 1, "components": [YES_NO[0]["components"][0]] * 2}]
    status, error = await post_message(fake, "general", {"content": "x", "components": twice})
    assert (status, error["code"]) == (400, 50035)
    assert error["errors"] == {
        "components": {
            "0": {
                "components": {
                    "1": {
                        "custom_id": {
                            "_errors": [
                                {
                                    "code": "COMPONENT_CUSTOM_ID_DUPLICATED",
                                    "message": "Component custom id cannot be duplicated",
                                }
                            ]
                        }
                    }
                }
            }
        }
    }

    long_id = [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "x" * 101}]}]
    status, error = await post_message(fake, "general", {"content": "x", "components": long_id})
    assert (status, error["code"]) == (400, 50035)
    assert error["errors"]["components"]["0"]["components"]["0"]["custom_id"] == {
        "_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 100 or fewer in length."}]
    }
    six_rows = [
        {"type": 1, "components": [{"type": 2, "style": 1, "label": "b", "custom_id": f"b{i}"}]}
        for i in range(6)
    ]
    status, error = await post_message(fake, "general", {"content": "x", "components": six_rows})
    assert (status, error["code"]) == (400, 50035)
    assert error["errors"] == {
        "components": {
            "_errors": [
                {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 5 or fewer in length."}
            ]
        }
    }


async def test_unknown_component_or_message_raises_unknown_target(fake: FakeDiscord) -> None:
    _, message = await post_message(fake, "general", {"content": "고르세요", "components": YES_NO})

    with pytest.raises(UnknownTarget) as caught:
        await fake.press_component(message["id"], "maybe")
    assert str(caught.value) == (
        f"no component with custom_id 'maybe' on message {message['id']} in #general; "
        "custom_ids: yes, no"
    )
    with pytest.raises(UnknownTarget, match="no message 1234"):
        await fake.press_component(1234, "yes")
    with pytest.raises(ValueError, match=r"'yes' is a button \(component_type=2\)"):
        await fake.press_component(message, "yes", component_type=3, values=["a"])


def racing_updater(label: str, outcomes: dict[str, object]) -> BotSetup:
    def setup(bot: commands.Bot) -> None:
        async def on_interaction(interaction: discord.Interaction) -> None:
            if interaction.type is not discord.InteractionType.component:
                return
            if label == "4":
                await asyncio.sleep(0.1)  # let instance 1 win deterministically
            assert interaction.message is not None and interaction.data is not None
            custom_id = interaction.data.get("custom_id")
            try:
                await interaction.response.edit_message(
                    content=f"{custom_id} 선택됨 ({label})", view=None
                )
                outcomes[label] = "updated"
            except discord.HTTPException as exc:
                outcomes[label] = exc.code

        bot.add_listener(on_interaction, "on_interaction")

    return setup


async def test_press_reaches_every_session_and_the_first_update_wins(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    outcomes: dict[str, object] = {}
    await start_bot("sandbox-instance-1", racing_updater("1", outcomes), sync=False)
    await start_bot("sandbox-instance-4", racing_updater("4", outcomes), sync=False)
    _, message = await post_message(fake, "general", {"content": "고르세요", "components": YES_NO})

    handle = await fake.press_component(int(message["id"]), "yes")
    result = await handle.wait_for_response(timeout=5, settle=0.3)

    assert sorted(map(str, handle.delivered_to)) == ["1", "4"]
    assert outcomes == {"1": "updated", "4": 40060}
    assert [(a.instance, a.status, a.code, a.type) for a in result.callback_attempts] == [
        ("1", 200, None, 7),
        ("4", 400, 40060, 7),
    ]
    assert result.interaction_type == 3 and result.callback_type == 7
    assert result.answered_by == "1" and result.message_updated and not result.deferred
    assert result.content == "yes 선택됨 (1)" and result.components == []
    assert result.component_message is not None
    assert result.component_message["id"] == message["id"]
    assert result.component_message["edited_timestamp"] is not None
    assert [m["id"] for m in result.messages] == [message["id"]]
    (stored,) = fake.channel_messages("general")
    assert (stored["content"], stored["components"]) == ("yes 선택됨 (1)", [])
    assert not fake.spec_violations


async def test_deferred_update_then_original_edit_changes_the_component_message(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    def setup(bot: commands.Bot) -> None:
        async def on_interaction(interaction: discord.Interaction) -> None:
            if interaction.type is not discord.InteractionType.component:
                return
            await interaction.response.defer()  # a component's plain defer is type 6
            if interaction.data and interaction.data.get("custom_id") == "yes":
                await asyncio.sleep(0.05)
                await interaction.edit_original_response(content="처리 완료", view=None)

        bot.add_listener(on_interaction, "on_interaction")

    await start_bot("sandbox-instance-2", setup, sync=False)
    _, message = await post_message(fake, "general", {"content": "고르세요", "components": YES_NO})

    # Type 6 alone: acknowledged, nothing changes for the user.
    quiet = await (await fake.press_component(message["id"], "no")).wait_for_response(timeout=5)
    assert (quiet.callback_type, quiet.deferred, quiet.message_updated) == (6, True, False)
    assert quiet.content == "고르세요" and quiet.components == message["components"]

    result = await (await fake.press_component(message["id"], "yes")).wait_for_response(timeout=5)

    assert result.callback_type == 6 and result.answered_by == "2" and result.message_updated
    assert result.content == "처리 완료" and result.components == []
    edits = [r for r in fake.requests if r.method == "PATCH" and r.path.startswith("/webhooks/")]
    assert [(r.path.rsplit("/", 2)[-2:], r.status, r.instance) for r in edits] == [
        (["messages", "@original"], 200, "2")
    ]
    (stored,) = fake.channel_messages("general")
    assert (stored["id"], stored["content"], stored["components"]) == (
        message["id"],
        "처리 완료",
        [],
    )
    assert not fake.errors and not fake.spec_violations


def search_tree() -> BotSetup:
    def setup(bot: commands.Bot) -> None:
        @bot.tree.command(name="검색", description="검색")
        async def search(interaction: discord.Interaction, 이름: str, 개수: int = 1) -> None:
            await interaction.response.send_message(f"{이름} x{개수}")

        @search.autocomplete("이름")
        async def complete(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            count = 26 if current == "많이" else 3
            ns = interaction.namespace
            return [
                app_commands.Choice(name=f"{current}-{i} ({ns.개수})", value=f"v{i}")
                for i in range(count)
            ]

    return setup


async def test_autocomplete_choices_are_validated_and_shown(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    await start_bot(setup=search_tree())

    handle = await fake.send_autocomplete("general", "검색", "이름", "고양", options={"개수": "2"})
    result = await handle.wait_for_response(timeout=5)

    assert result.interaction_type == 4 and result.callback_type == 8
    assert result.choices == [
        {"name": "고양-0 (2)", "value": "v0"},
        {"name": "고양-1 (2)", "value": "v1"},
        {"name": "고양-2 (2)", "value": "v2"},
    ]
    assert result.messages == [] and result.content is None
    assert not fake.spec_violations

    too_many = await fake.send_autocomplete("general", "검색", "이름", "많이")
    with pytest.raises(TimeoutError, match="type 8 -> 400 \\(50035\\)"):
        await too_many.wait_for_response(timeout=1)
    (error,) = fake.errors
    assert (error.status, error.code) == (400, 50035)
    assert error.errors == {
        "data": {
            "choices": {
                "_errors": [
                    {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 25 or fewer in length."}
                ]
            }
        }
    }
    assert too_many.result().choices is None
    # The spec's maxItems caught it: the callback body was checked against the schema.
    assert [(v.route, v.field) for v in fake.spec_violations] == [
        ("/interactions/{interaction_id}/{interaction_token}/callback", "data.choices")
    ]

    with pytest.raises(UnknownTarget, match="'개수' of /검색 has no autocomplete"):
        await fake.send_autocomplete("general", "검색", "개수", "3")


async def test_long_choice_value_is_refused(fake: FakeDiscord, start_bot: BotFactory) -> None:
    def setup(bot: commands.Bot) -> None:
        @bot.tree.command(name="검색", description="검색")
        async def search(interaction: discord.Interaction, 이름: str) -> None:
            await interaction.response.send_message(이름)

        @search.autocomplete("이름")
        async def complete(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name="긴 값", value="v" * 101)]

    await start_bot(setup=setup)
    await fake.send_autocomplete("general", "검색", "이름", "x")
    assert await fake.wait_until(lambda: bool(fake.errors), timeout=5)
    (error,) = fake.errors
    assert error.errors == {
        "data": {
            "choices": {
                "0": {
                    "value": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": "Must be 100 or fewer in length.",
                            }
                        ]
                    }
                }
            }
        }
    }


class TitleModal(discord.ui.Modal, title="제목 입력"):
    name = discord.ui.TextInput(label="제목", custom_id="제목")
    note = discord.ui.TextInput(label="메모", custom_id="메모", required=False)

    def __init__(self, codes: list[object]) -> None:
        super().__init__(custom_id="제목-모달")
        self.codes = codes

    async def on_submit(self, interaction: discord.Interaction) -> None:
        # 6 (plain defer) and 7 need a message: this modal came from a slash command.
        for attempt in (interaction.response.defer, interaction.response.edit_message):
            try:
                await attempt()
            except discord.HTTPException as exc:
                self.codes.append(exc.code)
        await interaction.response.send_message(f"받음: {self.name.value}/{self.note.value}")


async def test_modal_from_a_command_is_submitted_and_answered(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    codes: list[object] = []

    def setup(bot: commands.Bot) -> None:
        @bot.tree.command(name="제목", description="제목 입력")
        async def title(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(TitleModal(codes))

    await start_bot(setup=setup)
    opener = await fake.send_command("general", "제목")
    opened = await opener.wait_for_response(timeout=5)
    assert opened.modal is not None
    assert (opened.modal["custom_id"], opened.modal["title"]) == ("제목-모달", "제목 입력")
    assert opened.callback_type == 9

    with pytest.raises(UnknownTarget, match="unknown input\\(s\\) '없음'"):
        await fake.submit_modal(opener, {"없음": "x"})
    with pytest.raises(ValueError, match="'제목' is required"):
        await fake.submit_modal(opener, {"메모": "x"})

    handle = await fake.submit_modal(opener, {"제목": "안녕"})
    result = await handle.wait_for_response(timeout=5)

    assert result.interaction_type == 5 and result.callback_type == 4
    assert result.content == "받음: 안녕/" and result.component_message is None
    assert codes == [50035, 50035]
    assert [(a.type, a.status, a.code) for a in result.callback_attempts] == [
        (6, 400, 50035),
        (7, 400, 50035),
        (4, 200, None),
    ]
    invalid = {
        "type": {
            "_errors": [
                {"code": "INTERACTION_CALLBACK_TYPE_INVALID", "message": "Invalid callback type"}
            ]
        }
    }
    assert [e.errors for e in fake.errors] == [invalid, invalid]
    (answer,) = result.messages
    assert answer["interaction_metadata"]["type"] == 5
    assert answer["interaction_metadata"]["triggering_interaction_metadata"]["name"] == "제목"


class Counter(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"t:(?P<n>\d+)"):
    def __init__(self, n: int) -> None:
        super().__init__(discord.ui.Button(label=f"{n}번", custom_id=f"t:{n}"))
        self.n = n

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Counter:
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        assert interaction.message is not None
        view = discord.ui.View(timeout=None).add_item(Counter(self.n + 1))
        await interaction.response.edit_message(
            content=f"{interaction.message.content} -> {self.n + 1}", view=view
        )


async def test_dynamic_item_callback_runs_in_discord_py(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    sent: list[discord.Message] = []

    def setup(bot: commands.Bot) -> None:
        bot.add_dynamic_items(Counter)

    bot = await start_bot(setup=setup, sync=False)
    channel = bot.get_channel(fake.channel_id("general"))
    assert isinstance(channel, discord.TextChannel)
    sent.append(
        await channel.send("카운트 1", view=discord.ui.View(timeout=None).add_item(Counter(1)))
    )

    first = await (await fake.press_component(sent[0].id, "t:1")).wait_for_response(timeout=5)
    assert first.content == "카운트 1 -> 2" and first.callback_type == 7
    assert first.components == [
        {
            "type": 1,
            "id": 1,
            "components": [
                {
                    "type": 2,
                    "id": 2,
                    "style": 2,
                    "disabled": False,
                    "label": "2번",
                    "custom_id": "t:2",
                }
            ],
        }
    ]
    # The updated button is what the next press finds; the old one is gone.
    with pytest.raises(UnknownTarget, match="custom_ids: t:2"):
        await fake.press_component(sent[0].id, "t:1")
    second = await (await fake.press_component(sent[0].id, "t:2")).wait_for_response(timeout=5)
    assert second.content == "카운트 1 -> 2 -> 3"
    assert fake.channel_messages("general")[-1]["components"][0]["components"][0]["custom_id"] == (
        "t:3"
    )
    assert not fake.errors and not fake.spec_violations


async def test_modal_from_a_button_may_update_the_button_message(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    class RenameModal(discord.ui.Modal, title="이름 바꾸기"):
        name = discord.ui.TextInput(label="새 이름", custom_id="새이름", max_length=10)

        async def on_submit(self, interaction: discord.Interaction) -> None:
            await interaction.response.edit_message(content=f"이름: {self.name.value}", view=None)

    def setup(bot: commands.Bot) -> None:
        async def on_interaction(interaction: discord.Interaction) -> None:
            if interaction.type is discord.InteractionType.component:
                await interaction.response.send_modal(RenameModal(custom_id="rename"))

        bot.add_listener(on_interaction, "on_interaction")

    await start_bot(setup=setup, sync=False)
    _, message = await post_message(
        fake, "general", {"content": "이름: 없음", "components": YES_NO}
    )
    opener = await fake.press_component(message["id"], "yes")
    await opener.wait_for_response(timeout=5)

    with pytest.raises(ValueError, match="takes 0 to 10 characters, got 11"):
        await fake.submit_modal(opener, {"새이름": "가" * 11})
    result = await (await fake.submit_modal(opener, {"새이름": "토끼"})).wait_for_response(
        timeout=5
    )

    assert result.interaction_type == 5 and result.callback_type == 7 and result.message_updated
    assert result.content == "이름: 토끼" and result.components == []
    assert result.component_message is not None and result.component_message["id"] == message["id"]
    assert fake.channel_messages("general")[-1]["content"] == "이름: 토끼"
    assert not fake.errors and not fake.spec_violations


async def test_press_in_a_dm_and_a_select_are_answered_with_new_messages(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    seen: list[tuple[str, str, object]] = []

    def setup(bot: commands.Bot) -> None:
        async def on_interaction(interaction: discord.Interaction) -> None:
            if interaction.type is not discord.InteractionType.component:
                return
            assert interaction.data is not None
            kind = type(interaction.channel).__name__
            seen.append((kind, interaction.user.name, interaction.data.get("values")))
            await interaction.response.send_message("응답", ephemeral=kind != "DMChannel")

        bot.add_listener(on_interaction, "on_interaction")

    bot = await start_bot(setup=setup, sync=False)
    bob = await bot.fetch_user(fake.user_id("bob"))
    dm = await bob.send("고르세요", view=discord.ui.View().add_item(discord.ui.Button(label="네")))
    custom_id = dm.components[0].children[0].custom_id  # type: ignore[union-attr]
    assert custom_id is not None

    result = await (await fake.press_component(dm.id, custom_id)).wait_for_response(timeout=5)

    assert result.content == "응답" and result.callback_type == 4 and not result.ephemeral
    (answer,) = result.messages
    # An answer to a component replies to the component's message.
    assert answer["type"] == 19
    assert answer["message_reference"]["message_id"] == str(dm.id)
    assert answer["interaction_metadata"]["interacted_message_id"] == str(dm.id)
    assert seen == [("DMChannel", "bob", None)]

    menu = {
        "type": 1,
        "components": [
            {
                "type": 3,
                "custom_id": "색",
                "max_values": 2,
                "options": [{"label": "빨강", "value": "red"}, {"label": "파랑", "value": "blue"}],
            }
        ],
    }
    _, message = await post_message(fake, "general", {"content": "색", "components": [menu]})
    with pytest.raises(ValueError, match=r"no option\(s\) \['green'\]"):
        await fake.press_component(message["id"], "색", component_type=3, values=["green"])
    handle = await fake.press_component(
        message["id"], "색", component_type=3, values=["red", "blue"], user="alice"
    )
    picked = await handle.wait_for_response(timeout=5)
    assert picked.content == "응답" and picked.ephemeral
    assert seen[-1] == ("TextChannel", "alice", ["red", "blue"])
    assert not fake.errors and not fake.spec_violations
