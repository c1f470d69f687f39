"""/채팅 and chat by mention: the Discord side of streamed answers.

The command validates its input first (bad input gets a private message), then defers
publicly before any provider call: a deferral Discord refuses (another instance answered
first) raises, and no provider is ever called twice. A mention answers with a reply that
carries the trigger's id as an enforced nonce for the same reason.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.answering import first_reply_nonce, role_ids_of
from bot.logging_setup import get_logger, prompt_fields
from bot.store.memory import MemoryTurn
from commands._validation import clean_text
from commands.chat._conversation import conversation_key, model_turns, remembered_question
from commands.chat._stream import stream_answer
from services.budget import spending
from services.errors import ImagesNotSupported, InvalidInputError, UserFacingError
from services.openai_service import ChatOptions, ImagePart, OpenAIChat, Turn, Usage
from services.telemetry import observed

if TYPE_CHECKING:
    from bot.bot_class import MultiInstanceBot

log = get_logger("commands.chat")

NO_MENTIONS = discord.AllowedMentions.none()
IMAGES_DROPPED = "ℹ️ 이 모델은 이미지를 볼 수 없어서 글만 보고 답했어요."


class InteractionSurface:
    """Page 0 is the deferred reply; later pages are followups."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction
        self.followups: dict[int, discord.WebhookMessage] = {}

    async def send(self, index: int, content: str) -> None:
        if index == 0:
            await self.interaction.edit_original_response(
                content=content, allowed_mentions=NO_MENTIONS
            )
            return
        self.followups[index] = await self.interaction.followup.send(
            content, allowed_mentions=NO_MENTIONS, wait=True
        )

    async def edit(self, index: int, content: str) -> None:
        if index == 0:
            await self.interaction.edit_original_response(
                content=content, allowed_mentions=NO_MENTIONS
            )
        else:
            await self.followups[index].edit(content=content, allowed_mentions=NO_MENTIONS)


class ReplySurface:
    """Page 0 replies to the trigger (with its enforced nonce); later pages follow it."""

    def __init__(self, trigger: discord.Message) -> None:
        self.trigger = trigger
        self.messages: dict[int, discord.Message] = {}

    async def send(self, index: int, content: str) -> None:
        if index == 0:
            self.messages[0] = await self.trigger.reply(
                content,
                mention_author=False,
                allowed_mentions=NO_MENTIONS,
                nonce=first_reply_nonce(self.trigger),
            )
            return
        self.messages[index] = await self.trigger.channel.send(
            content, allowed_mentions=NO_MENTIONS
        )

    async def edit(self, index: int, content: str) -> None:
        await self.messages[index].edit(content=content, allowed_mentions=NO_MENTIONS)


def _image_attachment(attachment: discord.Attachment, max_bytes: int) -> None:
    if not (attachment.content_type or "").startswith("image/"):
        raise InvalidInputError(
            f"attachment {attachment.filename!r} is {attachment.content_type!r}, not an image",
            user_message="이미지 파일(PNG, JPEG, WEBP, GIF)만 붙일 수 있어요.",
        )
    if attachment.size > max_bytes:
        raise InvalidInputError(
            f"attachment of {attachment.size} bytes over the {max_bytes} byte cap",
            user_message=f"이미지가 너무 커요. {max_bytes // (1024 * 1024)}MB 이하로 올려 주세요.",
        )


class ChatCommands(commands.Cog):
    def __init__(self, bot: MultiInstanceBot) -> None:
        self.bot = bot
        self.settings = bot.settings.chat
        self._client: OpenAIChat | None = None

    async def cog_unload(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def client(self) -> OpenAIChat:
        if self._client is None:
            key = self.bot.settings.api_key("openai")
            if key is None:  # the router sends chat only to instances holding a key
                raise UserFacingError(
                    "chat asked of an instance without an OpenAI key",
                    user_message="이 인스턴스에는 채팅용 키가 없어요. 관리자에게 알려 주세요.",
                )
            self._client = OpenAIChat(
                api_key=key.get_secret_value(),
                base_url=self.bot.settings.providers.openai_base_url,
                options=ChatOptions(
                    model=self.settings.chat_model,
                    temperature=self.settings.chat_temperature,
                    max_output_tokens=self.settings.chat_max_output_tokens,
                    api=self.settings.chat_api,
                ),
                timeout_s=self.settings.chat_timeout,
                max_retries=self.settings.chat_max_retries,
            )
        return self._client

    def checked_images(self, attachments: Sequence[discord.Attachment]) -> list[discord.Attachment]:
        """Validate attached images before anything is acknowledged or paid for."""
        if len(attachments) > self.settings.chat_max_images:
            raise InvalidInputError(
                f"{len(attachments)} images, over the cap of {self.settings.chat_max_images}",
                user_message=f"이미지는 {self.settings.chat_max_images}장까지 붙일 수 있어요.",
            )
        for attachment in attachments:
            _image_attachment(attachment, self.settings.chat_image_max_bytes)
        return list(attachments)

    @app_commands.command(name="채팅", description="AI와 대화해요 (답이 쓰이는 대로 보여요)")
    @app_commands.rename(question="질문", image="이미지", fresh="새대화")
    @app_commands.describe(
        question="물어볼 내용",
        image="함께 볼 이미지 (선택)",
        fresh="True면 이전 대화를 잊고 새로 시작해요",
    )
    async def chat(
        self,
        interaction: discord.Interaction,
        question: str,
        image: discord.Attachment | None = None,
        fresh: bool = False,
    ) -> None:
        question = clean_text(
            question, label="질문", max_length=self.settings.chat_prompt_max_chars
        )
        attachments = self.checked_images([image] if image else [])
        roles = role_ids_of(interaction.user, interaction.guild_id)
        await self.bot.user_limits.take("채팅", interaction.user.id, roles)
        # Public "thinking…" before any paid work; refused (40060) means another instance
        # has it, and the exception ends this one here.
        await interaction.response.defer(thinking=True)
        await self.answer(
            key=str(interaction.id),
            conversation=conversation_of(interaction.channel, interaction.user.id),
            question=question,
            attachments=attachments,
            fresh=fresh,
            surface=InteractionSurface(interaction),
        )

    async def on_chat_message(self, message: discord.Message) -> None:
        """A mention of the bot (or a DM, or a reply with the Message Content intent)."""
        question = strip_mentions(message.content, self.bot.user)
        attachments = self.checked_images(
            [a for a in message.attachments if (a.content_type or "").startswith("image/")]
        )
        if not question:
            raise InvalidInputError(
                "chat message without a question",
                user_message="질문을 함께 적어 주세요. 예: @봇 오늘 날씨 어때?",
            )
        question = clean_text(
            question, label="질문", max_length=self.settings.chat_prompt_max_chars
        )
        roles = role_ids_of(message.author, message.guild.id if message.guild else None)
        await self.bot.user_limits.take("채팅", message.author.id, roles)
        await self.answer(
            key=f"msg:{message.id}",
            conversation=conversation_of(message.channel, message.author.id),
            question=question,
            attachments=attachments,
            fresh=False,
            surface=ReplySurface(message),
        )

    async def answer(
        self,
        *,
        key: str,
        conversation: str,
        question: str,
        attachments: Sequence[discord.Attachment],
        fresh: bool,
        surface: InteractionSurface | ReplySurface,
    ) -> None:
        started = time.monotonic()
        memory = self.bot.store.memory
        client = self.client()
        if fresh:
            await memory.forget(conversation)
        history = await memory.history(conversation)
        images = [ImagePart(await a.read(), a.content_type or "image/png") for a in attachments]
        turns = model_turns(self.settings.chat_system_prompt, history, question, images)
        await memory.save(
            conversation,
            MemoryTurn("user", remembered_question(question, len(images)), f"{key}:user"),
        )
        notes: list[str] = []

        async def save(text: str, usage: Usage | None = None) -> None:
            await memory.save(
                conversation,
                MemoryTurn(
                    "assistant",
                    text,
                    f"{key}:assistant",
                    input_tokens=usage.input_tokens if usage else None,
                    output_tokens=usage.output_tokens if usage else None,
                ),
            )

        result = await stream_answer(
            self._chunks(client, turns, notes),
            surface,
            interval=self.settings.chat_edit_interval,
            save=save,
            notes=notes,
            placeholder=isinstance(surface, ReplySurface),
        )
        await save(result.text, result.usage)
        if result.first_shown_at is not None:
            shown_wall = time.time() - (time.monotonic() - result.first_shown_at)
            self.bot.answers.first_output(key, "채팅", created_at_of(key), at=shown_wall)
        first_edit_ms = (
            round((result.first_shown_at - result.first_token_at) * 1000)
            if result.first_shown_at is not None and result.first_token_at is not None
            else None
        )
        log.info(
            "chat_answered",
            event_key=key,
            chars=len(result.text),
            **prompt_fields(question, log_prompts=self.bot.settings.logging.log_prompts),
            input_tokens=result.usage.input_tokens if result.usage else None,
            output_tokens=result.usage.output_tokens if result.usage else None,
            first_token_to_first_edit_ms=first_edit_ms,
            duration_ms=round((time.monotonic() - started) * 1000),
        )

    async def _chunks(
        self, client: OpenAIChat, turns: list[Turn], notes: list[str]
    ) -> AsyncIterator[str | Usage]:
        """The provider's stream; a model that refuses images is asked again with text only
        (nothing was shown yet) and the user is told."""
        sent_any = False
        observer = self.bot.metrics.provider_call
        # One unit of today's OpenAI budget per answer, given back if OpenAI refused it.
        async with spending(self.bot.budget, "openai"):
            try:
                async with observed(observer, "openai", "chat"):
                    async for chunk in client.stream(turns):
                        sent_any = True
                        yield chunk
            except ImagesNotSupported:
                if sent_any or not turns[-1].images:
                    raise
                log.info("chat_images_dropped", model=self.settings.chat_model)
                notes.append(IMAGES_DROPPED)
                text_only = [*turns[:-1], Turn("user", turns[-1].text)]
                async with observed(observer, "openai", "chat"):
                    async for chunk in client.stream(text_only):
                        yield chunk


def created_at_of(key: str) -> float:
    """When the event behind `key` (an interaction id or `msg:<message id>`) was created."""
    return discord.utils.snowflake_time(int(key.removeprefix("msg:"))).timestamp()


def conversation_of(channel: object, user_id: int) -> str:
    """The memory key for a question asked in `channel` by `user_id`."""
    is_dm = channel is None or isinstance(channel, discord.DMChannel)
    return conversation_key(
        thread_id=channel.id if isinstance(channel, discord.Thread) else None,
        channel_id=None if is_dm else channel.id,  # type: ignore[union-attr]
        user_id=user_id,
    )


def strip_mentions(content: str, me: discord.abc.User | None) -> str:
    """The question in a chat message: the bot's own mention removed, trimmed."""
    if me is not None:
        content = re.sub(rf"<@!?{me.id}>", " ", content)
    return content.strip()
