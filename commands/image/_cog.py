"""/이미지 and its buttons: the Discord side of image generation.

The command checks its options first (bad input: a private Korean message, nothing paid
for), then defers publicly before any provider is called: a deferral Discord refuses
(another instance answered first) raises, so no image is ever paid for twice. While the
providers draw, the placeholder shows who draws and for how long; the result replaces it:
every image in one message, an embed, and the 다시 생성 / 변형 buttons.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import re
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.answering import guarded_autocomplete, role_ids_of
from bot.fair_queue import FairSlots
from bot.gate import SERVE, Admission, AdmissionKind
from bot.logging_setup import get_logger, prompt_fields
from bot.tasks import stop_task
from commands._screening import prompt_screen, refuse_after_deferral
from commands._validation import clean_text
from commands.image._buttons import result_view
from commands.image._files import fit, per_file_limit
from commands.image._spec import (
    MAX_NEGATIVE,
    MAX_PROMPT,
    MODEL_PROVIDER,
    RATIOS,
    REGENERATE,
    ImageSpec,
    build_spec,
    parse_button,
    regenerated,
    varied,
)
from commands.image._texts import (
    NOT_YOURS,
    PROMPT_MISSING,
    failover_note,
    progress_text,
    prompt_of,
    queued_text,
    reencoded_note,
    result_embed,
)
from services.errors import InvalidInputError, ProviderError, UserFacingError
from services.image_service import ImageClient, ImageService, Served, label
from services.image_types import MAX_SEED, RetryPolicy, parse_ratio
from services.minimax_image import MiniMaxImage
from services.stability_image import StabilityImage

if TYPE_CHECKING:
    from bot.bot_class import MultiInstanceBot

log = get_logger("commands.image")

NO_MENTIONS = discord.AllowedMentions.none()
ALL_BUSY = (
    "지금은 이미지 제공자(MiniMax, Stability)를 모두 쓸 수 없어요 (요청 한도나 잔액 문제). "
    "약 {minutes}분 뒤에 다시 시도해 주세요."
)
NO_KEYS = "이 인스턴스에는 이미지 제공자 키가 없어요. 관리자에게 알려 주세요."
STOPPED = "⚠️ 봇이 다시 시작되어 이미지를 완성하지 못했어요. 잠시 후 다시 시도해 주세요."
MODEL_CHOICES = [app_commands.Choice(name=f"{m} ({p})", value=m) for m, p in MODEL_PROVIDER.items()]


def ratio_choices(typed: str) -> list[app_commands.Choice[str]]:
    """The listed ratios containing what was typed; a typed ratio of its own comes first."""
    typed = typed.strip()
    listed = [r for r in RATIOS if typed.replace(" ", "") in r]
    choices = [app_commands.Choice(name=r, value=r) for r in listed]
    with contextlib.suppress(InvalidInputError):
        width, height = parse_ratio(typed)
        own = f"{width}:{height}"
        if own not in RATIOS:
            choices.insert(0, app_commands.Choice(name=f"{own} (가까운 비율로 맞춰요)", value=own))
    return choices


class Progress:
    """Edits the deferred placeholder: who is drawing, for how long, who failed before."""

    def __init__(
        self,
        interaction: discord.Interaction,
        count: int,
        interval: float,
        on_shown: Callable[[], None] | None = None,
    ) -> None:
        self.interaction = interaction
        self.on_shown = on_shown  # told once, when the first progress line is visible
        self.count = count
        self.interval = interval
        self.started = time.monotonic()
        self.provider: str | None = None
        self.failures: Sequence[tuple[str, ProviderError]] = ()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    async def queued(self, place: int) -> None:
        """All drawing slots are taken: say where in the line this request waits."""
        await self._edit(queued_text(place))

    async def attempt(self, provider: str, failures: Sequence[tuple[str, ProviderError]]) -> None:
        self.provider, self.failures = provider, failures
        await self.show()
        if self._task is None and not self._stopped:
            self._task = asyncio.create_task(self._tick(), name="image-progress")

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.show()

    async def show(self) -> None:
        if self.provider is None or self._stopped:
            return
        await self._edit(progress_text(self.provider, self.failures, self.elapsed_s, self.count))

    async def _edit(self, text: str) -> None:
        async with self._lock:
            if self._stopped:
                return
            try:
                await self.interaction.edit_original_response(
                    content=text, allowed_mentions=NO_MENTIONS
                )
            except discord.HTTPException as exc:  # progress is a courtesy: never fail on it
                log.debug("image_progress_edit_failed", status=exc.status, code=exc.code)
                return
            if self.on_shown is not None:
                self.on_shown()
                self.on_shown = None

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    async def stop(self) -> None:
        """No more progress edits; one in flight lands before whatever comes next."""
        self._stopped = True
        if self._task is not None:
            await stop_task(self._task)
            self._task = None
        async with self._lock:
            pass


class ImageCommands(commands.Cog):
    def __init__(self, bot: MultiInstanceBot) -> None:
        self.bot = bot
        self.settings = bot.settings.image
        self._service: ImageService | None = None
        self.screen = prompt_screen(bot.settings)
        self.slots = FairSlots(self.settings.image_max_running)
        # Placeholders of images being drawn, by event key: told when the bot stops.
        self._drawing: dict[str, Progress] = {}

    async def cog_unload(self) -> None:
        """The bot is stopping (after its drain grace): an image still being drawn will not
        arrive, so its placeholder says so instead of spinning forever."""
        for key, progress in list(self._drawing.items()):
            log.warning("image_abandoned_on_stop", event_key=key)
            await progress.stop()  # no progress edit may land after this one
            with contextlib.suppress(discord.HTTPException):
                await progress.interaction.edit_original_response(
                    content=STOPPED, embeds=[], attachments=[], view=None
                )
        if self._service is not None:
            await self._service.aclose()
        await self.screen.aclose()

    def service(self) -> ImageService:
        if self._service is None:
            self._service = ImageService(
                self._clients(),
                order=self.settings.provider_order,
                rate_limit_cooldown_s=self.settings.image_rate_limit_cooldown,
                account_cooldown_s=self.settings.image_account_cooldown,
                observer=self.bot.metrics.provider_call,
                budget=self.bot.budget,
            )
        return self._service

    def _clients(self) -> dict[str, ImageClient]:
        settings, providers = self.settings, self.bot.settings.providers
        retry = RetryPolicy(attempts=settings.image_max_retries + 1)
        clients: dict[str, ImageClient] = {}
        minimax_key = self.bot.settings.api_key("minimax")
        if minimax_key is not None:
            clients["minimax"] = MiniMaxImage(
                api_key=minimax_key.get_secret_value(),
                base_url=providers.minimax_base_url,
                model=settings.image_minimax_model,
                timeout_s=settings.image_timeout,
                retry=retry,
                prompt_optimizer=settings.image_prompt_optimizer,
            )
        stability_key = self.bot.settings.api_key("stability")
        if stability_key is not None:
            clients["stability"] = StabilityImage(
                api_key=stability_key.get_secret_value(),
                base_url=providers.stability_base_url,
                model=settings.image_stability_model,
                timeout_s=settings.image_timeout,
                retry=retry,
            )
        return clients

    async def admission(self, command: str) -> Admission:
        """Serve unless every image provider of this instance is cooling down or has used
        its calls for today; then the next instance in the channel's order serves (or the
        last one says why)."""
        service, budget = self.service(), self.bot.budget
        spent = [p for p in service.order if await budget.spent(p)]
        if any(p not in spent for p in service.usable()):
            return SERVE
        if not service.order:
            return Admission(AdmissionKind.DECLINE, message=NO_KEYS)
        if len(spent) == len(service.order):
            return Admission(AdmissionKind.DECLINE, message=budget.spent_message(spent[0]))
        minutes = max(1, math.ceil(service.soonest_usable_s() / 60))
        return Admission(AdmissionKind.DECLINE, message=ALL_BUSY.format(minutes=minutes))

    @app_commands.command(name="이미지", description="AI로 이미지를 만들어요 (MiniMax, Stability)")
    @app_commands.rename(
        prompt="설명",
        provider="제공자",
        ratio="비율",
        count="개수",
        negative="제외할요소",
        seed="시드",
        model="모델",
    )
    @app_commands.describe(
        prompt="만들 이미지 설명",
        provider="자동이면 MiniMax가 안 될 때 Stability로 넘어가요",
        ratio="화면 비율 (예: 16:9). 제공자가 지원하지 않으면 가장 가까운 비율로 맞춰요",
        count="한 번에 만들 장수 (1~4)",
        negative="그림에 넣지 않을 것 (Stability만 지원)",
        seed="같은 시드와 설명이면 비슷한 그림이 나와요",
        model="제공자의 모델을 직접 골라요",
    )
    @app_commands.choices(
        provider=[app_commands.Choice(name=n, value=n) for n in ("자동", "MiniMax", "Stability")],
        model=MODEL_CHOICES,
    )
    async def image(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, MAX_PROMPT],
        provider: str = "자동",
        ratio: str | None = None,
        count: app_commands.Range[int, 1, 4] = 1,
        negative: app_commands.Range[str, 1, MAX_NEGATIVE] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        model: str | None = None,
    ) -> None:
        spec = build_spec(
            prompt=clean_text(
                prompt, label="설명", max_length=self.settings.image_prompt_max_chars
            ),
            provider=provider,
            ratio=ratio,
            count=count,
            seed=seed,
            model=model,
            negative=clean_text(negative, label="제외할요소", max_length=MAX_NEGATIVE)
            if negative and negative.strip()
            else None,
            requester=interaction.user.id,
        )
        providers = self._providers_for(spec)
        self.screen.check_words([spec.prompt, spec.negative])
        await self.bot.user_limits.take(
            "이미지", interaction.user.id, role_ids_of(interaction.user, interaction.guild_id)
        )
        # Public "thinking…" before any paid work; refused (40060) means another
        # instance has it, and the exception ends this one here.
        await interaction.response.defer(thinking=True)
        if await self.screen.flagged(" ".join(filter(None, [spec.prompt, spec.negative]))):
            await refuse_after_deferral(interaction)  # ends the command, counted refused
        await self.deliver(interaction, spec, providers, key=str(interaction.id))

    @image.autocomplete("ratio")
    @guarded_autocomplete
    async def ratio_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return ratio_choices(current)

    def _providers_for(self, spec: ImageSpec) -> tuple[str, ...]:
        service = self.service()
        providers = spec.providers(service.automatic())
        if not providers:
            raise UserFacingError(
                "image asked of an instance without image keys", user_message=NO_KEYS
            )
        missing = [p for p in providers if p not in service.clients]
        if missing:
            raise UserFacingError(
                f"image provider {missing[0]} chosen, but this instance has no key for it",
                user_message=(
                    f"이 인스턴스에는 {label(missing[0])} 키가 없어요. "
                    "제공자를 자동으로 골라 주세요."
                ),
            )
        return providers

    async def on_button(self, interaction: discord.Interaction, match: re.Match[str]) -> None:
        """다시 생성 / 변형: only the requester; the result is a new message."""
        if interaction.user.id != int(match["user"]):
            log.info("image_button_not_requester", presser=interaction.user.id)
            await interaction.response.send_message(NOT_YOURS, ephemeral=True)
            return
        prompt, negative = prompt_of(interaction.message)
        if prompt is None:
            raise InvalidInputError(
                "image button on a message without the result embed", user_message=PROMPT_MISSING
            )
        press = parse_button(match, prompt, negative)
        if press.action == REGENERATE:
            spec = regenerated(press.spec)
        else:
            spec = varied(press.spec, press.served, tuple(self.service().clients))
        providers = self._providers_for(spec)
        # A press draws again: it counts like a command (the prompt was screened then).
        await self.bot.user_limits.take(
            "이미지", interaction.user.id, role_ids_of(interaction.user, interaction.guild_id)
        )
        await interaction.response.defer(thinking=True)
        await self.deliver(interaction, spec, providers, key=str(interaction.id))

    async def deliver(
        self,
        interaction: discord.Interaction,
        spec: ImageSpec,
        providers: tuple[str, ...],
        *,
        key: str,
    ) -> None:
        created_at = discord.utils.snowflake_time(interaction.id).timestamp()
        progress = Progress(
            interaction,
            spec.count,
            self.settings.image_progress_interval,
            on_shown=lambda: self.bot.answers.first_output(key, "이미지", created_at),
        )
        self._drawing[key] = progress
        try:
            try:
                # Beyond IMAGE_MAX_RUNNING drawings, requests wait round-robin per user.
                async with self.slots.turn(spec.requester, on_place=progress.queued):
                    served = await self.service().generate(
                        spec.request(), providers, on_attempt=progress.attempt
                    )
            finally:
                await progress.stop()
            await self._show(interaction, spec, served, progress.elapsed_s, key)
        finally:
            self._drawing.pop(key, None)

    async def _show(
        self,
        interaction: discord.Interaction,
        spec: ImageSpec,
        served: Served,
        elapsed_s: float,
        key: str,
    ) -> None:
        stem = f"{served.result.provider}-{spec.seed}"  # minimax-1234-1.png, minimax-1234-2.png
        files, reencoded = await self._files(served, interaction.filesize_limit, stem)
        notes = [
            n
            for n in (
                failover_note(served.failed, served.result.provider),
                *served.result.notes,
                reencoded_note(reencoded),
            )
            if n
        ]
        await interaction.edit_original_response(
            content=None,
            embed=result_embed(spec, served.result, elapsed_s, notes),
            attachments=files,
            view=result_view(spec, served.result.provider),
            allowed_mentions=NO_MENTIONS,
        )
        log.info(
            "image_generated",
            event_key=key,
            **prompt_fields(spec.prompt, log_prompts=self.bot.settings.logging.log_prompts),
            provider=served.result.provider,
            model=served.result.model,
            images=len(files),
            reencoded=reencoded,
            failed_over_from=[p for p, _ in served.failed] or None,
            provider_request_ids=list(served.result.request_ids) or None,
            duration_ms=round(elapsed_s * 1000),
        )

    async def _files(
        self, served: Served, filesize_limit: int, stem: str
    ) -> tuple[list[discord.File], int]:
        images = served.result.images
        limit = per_file_limit(filesize_limit, len(images))
        fitted = [
            await asyncio.to_thread(fit, image, limit, f"{stem}-{i + 1}")
            for i, image in enumerate(images)
        ]
        files = [discord.File(io.BytesIO(f.data), filename=f.filename) for f in fitted]
        return files, sum(f.reencoded for f in fitted)
