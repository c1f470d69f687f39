"""/비디오: the Discord side of durable video jobs.

The command checks its options (a private Korean message for bad ones, nothing paid for),
defers publicly, turns the placeholder into the progress message (with 취소), and hands a
job to the bot's `JobRunner`, which records it before the provider is called. `VideoJobs`
is the job kind's handler: it starts and polls the MiniMax task and shows progress and the
result. Everything it needs is in the job record (application id, interaction token,
channel, message id), so any instance can finish a job another one started.

Delivery goes through the interaction while its token lives (an edit of the progress
message: repeating it after a crash changes nothing), else as a channel message that
mentions the requester alone and carries the job's nonce, so Discord drops a second copy.
"""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.answering import role_ids_of
from bot.channels import route_channel_name
from bot.job_runner import Failed, Pending, PollResult, Ready
from bot.logging_setup import get_logger, prompt_fields
from bot.store.jobs import Job, JobState, JobStoreUnavailable, new_job_id
from commands._screening import prompt_screen, refuse_after_deferral
from commands._validation import clean_text
from commands.video._buttons import cancel_view
from commands.video._texts import (
    ALREADY_OVER,
    CANCELLED,
    CANCELLED_AFTER_START,
    CANCELLING,
    NOT_YOURS,
    STORE_DOWN,
    late_text,
    link_text,
    progress_text,
    result_text,
)
from services.budget import spending
from services.errors import UserFacingError
from services.image_types import RetryPolicy
from services.minimax_video import (
    DURATIONS,
    MAX_PROMPT,
    RESOLUTIONS,
    VIDEO_MODELS,
    MiniMaxVideo,
    TaskState,
    VideoFile,
    VideoRequest,
    check_video_request,
)
from services.telemetry import observed

if TYPE_CHECKING:
    from bot.bot_class import MultiInstanceBot

log = get_logger("commands.video")

TOKEN_LIFE_S = 15 * 60  # Discord: an interaction token works for 15 minutes
TOKEN_MARGIN_S = 30  # past this close to the end, post in the channel instead
INVALID_WEBHOOK_TOKEN = 50027
UNKNOWN_WEBHOOK = 10015
NO_KEY = "이 인스턴스에는 MiniMax 키가 없어서 영상을 만들 수 없어요. 관리자에게 알려 주세요."
ALL_RESOLUTIONS = sorted({r for rs in RESOLUTIONS.values() for r in rs})


def token_alive(job: Job, now: float | None = None) -> bool:
    age = (time.time() if now is None else now) - job.token_issued_at
    return age < TOKEN_LIFE_S - TOKEN_MARGIN_S


class VideoJobs:
    """The `video` job kind: MiniMax calls and what the user sees (a `JobHandler`)."""

    def __init__(self, bot: MultiInstanceBot) -> None:
        self.bot = bot
        self.settings = bot.settings.video
        self._client: MiniMaxVideo | None = None

    def client(self) -> MiniMaxVideo:
        if self._client is None:
            key = self.bot.settings.api_key("minimax")
            if key is None:
                raise UserFacingError(
                    "video job on an instance without a MiniMax key", user_message=NO_KEY
                )
            self._client = MiniMaxVideo(
                key.get_secret_value(),
                base_url=self.bot.settings.providers.minimax_base_url,
                timeout_s=self.settings.video_timeout,
                retry=RetryPolicy(attempts=self.settings.video_max_retries + 1),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    # ---- the provider ----

    async def start(self, job: Job) -> str:
        # One unit of today's MiniMax budget per video, given back if MiniMax refused it.
        async with (
            spending(self.bot.budget, "minimax"),
            observed(self.bot.metrics.provider_call, "minimax", "video_create"),
        ):
            return await self.client().create(request_of(job))

    async def poll(self, job: Job) -> PollResult:
        assert job.provider_task_id is not None
        async with observed(self.bot.metrics.provider_call, "minimax", "video_query"):
            status = await self.client().query(job.provider_task_id)
        if status.state is TaskState.FAIL:
            return Failed(status.failure().user_message)
        if status.state is not TaskState.SUCCESS:
            return Pending(status.state.value)
        if status.file_id is None:
            return Pending(TaskState.SUCCESS.value)  # the file is not listed yet
        async with observed(self.bot.metrics.provider_call, "minimax", "video_retrieve"):
            file = await self.client().retrieve(status.file_id)
        return Ready(
            {
                "file_id": file.file_id,
                "filename": file.filename,
                "size": file.size,
                "download_url": file.download_url,
            }
        )

    # ---- what the user sees ----

    async def progress(self, job: Job, queue_position: int | None) -> None:
        if not token_alive(job):
            return  # the progress message can no longer be edited; the result is posted
        text = progress_text(
            job.state,
            job.progress,
            time.time() - job.created_at,
            int(job.options.get("duration", 6)),
            queue_position,
        )
        await self._edit(job, content=text, view=cancel_view(job.id, job.user_id))

    async def deliver(self, job: Job) -> None:
        limit = int(job.options.get("filesize_limit", 10 * 1024 * 1024))
        result = job.result
        file = VideoFile(
            file_id=str(result.get("file_id")),
            filename=str(result.get("filename") or f"{job.id}.mp4"),
            size=result.get("size"),  # type: ignore[arg-type]
            download_url=str(result.get("download_url")),
        )
        data = None
        if file.size is None or file.size <= limit:
            async with observed(self.bot.metrics.provider_call, "minimax", "video_download"):
                data = await self.client().download(file, limit)
        body = result_text(job.options, time.time() - job.created_at)
        if data is None:
            body = f"{body}\n{link_text(file.download_url, file.size, limit)}"
        attachments = (
            [] if data is None else [discord.File(io.BytesIO(data), f"video-{job.id}.mp4")]
        )
        await self._post(job, body, attachments, nonce=f"v{job.id}")
        await self.bot.user_limits.let_go("비디오", job.user_id, job.id)
        log.info(
            "video_delivered",
            job_id=job.id,
            attached=data is not None,
            bytes=len(data) if data is not None else file.size,
            via="interaction" if token_alive(job) else "channel",
        )

    async def report(self, job: Job) -> None:
        if job.state is JobState.CANCELLED:
            body = CANCELLED_AFTER_START if job.provider_task_id else CANCELLED
        else:
            body = f"⚠️ {job.error or '영상을 만들지 못했어요.'}"
        await self._post(job, body, [], nonce=f"x{job.id}")
        await self.bot.user_limits.let_go("비디오", job.user_id, job.id)

    # ---- Discord, with or without the interaction token ----

    async def _post(self, job: Job, body: str, files: list[discord.File], *, nonce: str) -> None:
        """Replace the progress message while the token lives; otherwise (or when Discord
        says the token is dead) post in the channel, mentioning the requester alone."""
        if token_alive(job):
            try:
                await self._edit(job, content=body, attachments=files, view=None)
                return
            except discord.HTTPException as exc:
                if exc.code not in (INVALID_WEBHOOK_TOKEN, UNKNOWN_WEBHOOK):
                    raise
                log.info("video_token_expired_posting_in_channel", job_id=job.id)
                for file in files:
                    file.reset()
        if job.channel_id is None:
            raise UserFacingError(f"job {job.id} has no channel to post in")
        channel = self.bot.get_partial_messageable(job.channel_id)
        await channel.send(
            late_text(job.user_id, body),
            files=files,
            allowed_mentions=discord.AllowedMentions(
                everyone=False, roles=False, users=[discord.Object(job.user_id)]
            ),
            nonce=nonce[:25],
        )

    async def _edit(self, job: Job, **changes: Any) -> None:
        webhook = discord.Webhook.partial(
            job.application_id, job.interaction_token, client=self.bot
        )
        await webhook.edit_message(
            int(job.options["message_id"]),
            allowed_mentions=discord.AllowedMentions.none(),
            **changes,
        )


def request_of(job: Job) -> VideoRequest:
    options = job.options
    return VideoRequest(
        prompt=str(options["prompt"]),
        model=str(options["model"]),
        duration=int(options["duration"]),
        resolution=str(options["resolution"]),
    )


class VideoCommands(commands.Cog):
    def __init__(self, bot: MultiInstanceBot) -> None:
        self.bot = bot
        self.settings = bot.settings.video
        self.jobs = VideoJobs(bot)
        self.screen = prompt_screen(bot.settings)

    async def cog_unload(self) -> None:
        await self.jobs.aclose()
        await self.screen.aclose()

    @app_commands.command(
        name="비디오", description="AI로 짧은 영상을 만들어요 (MiniMax, 보통 1~5분)"
    )
    @app_commands.rename(prompt="설명", model="모델", duration="길이", resolution="해상도")
    @app_commands.describe(
        prompt="만들 영상 설명",
        model="MiniMax 영상 모델",
        duration="영상 길이 (10초는 768P만)",
        resolution="해상도 (512P는 Hailuo-02만, 1080P는 6초만)",
    )
    @app_commands.choices(
        model=[app_commands.Choice(name=m, value=m) for m in VIDEO_MODELS],
        duration=[app_commands.Choice(name=f"{d}초", value=d) for d in DURATIONS],
        resolution=[app_commands.Choice(name=r, value=r) for r in ALL_RESOLUTIONS],
    )
    async def video(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, MAX_PROMPT],
        model: str | None = None,
        duration: int | None = None,
        resolution: str | None = None,
    ) -> None:
        request = self.request(prompt, model, duration, resolution)
        if self.bot.settings.api_key("minimax") is None:
            raise UserFacingError(
                "video asked of an instance without a MiniMax key", user_message=NO_KEY
            )
        self.screen.check_words([request.prompt])
        user, job_id = interaction.user, new_job_id()
        roles = role_ids_of(user, interaction.guild_id)
        limits = self.bot.user_limits
        # The running place first: a refusal for a video still running is not a use.
        await limits.hold("비디오", user.id, job_id, roles)  # until delivered or reported
        try:
            await limits.take("비디오", user.id, roles)
            # Public "thinking…" before anything is recorded or paid; refused (40060)
            # means another instance has it.
            await interaction.response.defer(thinking=True)
            if await self.screen.flagged(request.prompt):
                await refuse_after_deferral(interaction)  # raises: the place is let go below
        except BaseException:
            await limits.let_go("비디오", user.id, job_id)
            raise
        job = Job(
            id=job_id,
            kind="video",
            owner=None,
            incarnation="",
            user_id=interaction.user.id,
            channel_id=interaction.channel_id,
            channel_name=route_channel_name(interaction.channel, self.bot),
            application_id=interaction.application_id,
            interaction_token=interaction.token,
            token_issued_at=discord.utils.snowflake_time(interaction.id).timestamp(),
            options={
                "prompt": request.prompt,
                "model": request.model,
                "duration": request.duration,
                "resolution": request.resolution,
                "filesize_limit": interaction.filesize_limit,
            },
        )
        runner = self.bot.job_runner
        message = await interaction.edit_original_response(
            content=progress_text(JobState.QUEUED, None, 0.0, request.duration, None),
            view=cancel_view(job.id, job.user_id),
        )
        job.options["message_id"] = message.id
        self.bot.answers.first_output(str(interaction.id), "비디오", job.token_issued_at)
        log.info(
            "video_requested",
            job_id=job.id,
            **prompt_fields(request.prompt, log_prompts=self.bot.settings.logging.log_prompts),
        )
        try:
            await runner.submit(job)
        except JobStoreUnavailable as exc:
            await limits.let_go("비디오", user.id, job_id)
            raise UserFacingError(
                f"video job not recorded: {exc}", user_message=STORE_DOWN
            ) from None

    def request(
        self, prompt: str, model: str | None, duration: int | None, resolution: str | None
    ) -> VideoRequest:
        """The options with the configured defaults filled in, checked (Korean messages).
        A 10 s video with no resolution chosen is made at 768P, the only one it allows."""
        settings = self.settings
        duration = duration or settings.video_duration
        if resolution is None:
            resolution = "768P" if duration == 10 else settings.video_resolution
        request = VideoRequest(
            prompt=clean_text(prompt, label="설명", max_length=settings.video_prompt_max_chars),
            model=model or settings.video_model,
            duration=duration,
            resolution=resolution,
        )
        check_video_request(request)
        return request

    async def on_cancel(self, interaction: discord.Interaction, job_id: str, user_id: int) -> None:
        if interaction.user.id != user_id:
            await interaction.response.send_message(NOT_YOURS, ephemeral=True)
            return
        store = self.bot.store.jobs
        job = await store.get(job_id)
        if job is None or job.finished:
            await interaction.response.send_message(ALREADY_OVER, ephemeral=True)
            return
        await store.request_cancel(job_id)
        self.bot.job_runner.nudge(job_id)
        log.info("video_cancel_requested", job_id=job_id, owner=job.owner)
        # The owner (this instance or another) reports the cancellation in this message.
        await interaction.response.edit_message(content=CANCELLING, view=None)
