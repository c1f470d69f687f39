"""MiniMaxVideo against the loopback MiniMax double (sandbox/providers), and against
hand-made answers (httpx.MockTransport) for what the double never sends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from sandbox.providers import FakeMiniMax, MiniMaxReply
from sandbox.providers._mp4 import clip_mp4
from services.errors import (
    ContentRefused,
    InvalidInputError,
    InvalidProviderRequest,
    ProviderAuthFailed,
    ProviderError,
    ProviderOutOfCredit,
    ProviderQuotaExhausted,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from services.image_types import RetryPolicy
from services.minimax_errors import input_refused_message, output_refused_message, with_particle
from services.minimax_video import (
    DURATIONS,
    RESOLUTIONS,
    VIDEO_MODELS,
    MiniMaxVideo,
    TaskState,
    TaskStatus,
    VideoFile,
    VideoRequest,
    check_video_request,
)

KEY = "sk-sandbox-minimax-video-key-0123456789"
FAST = RetryPolicy(attempts=3, initial_s=0.01, max_s=0.02)
CREATE = "/v1/video_generation"
QUERY = "/v1/query/video_generation"
RETRIEVE = "/v1/files/retrieve"
FIRST_TASK = "301546890112001"
FIRST_FILE = "205258526306433"
CLIP_BYTES = 4_748
BIG_BYTES = 3_145_728


@pytest.fixture
async def fake() -> AsyncIterator[FakeMiniMax]:
    """Phases of 2 + 10 + 60 s on a frozen clock: only advance_video moves it."""
    async with FakeMiniMax(
        video_prepare_s=2, video_queue_s=10, video_process_s=60, video_speed=0
    ) as server:
        yield server
    assert server.errors == []


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., MiniMaxVideo]]:
    made: list[MiniMaxVideo] = []

    def build(fake: FakeMiniMax | None = None, **options) -> MiniMaxVideo:
        options.setdefault("retry", FAST)
        if fake is not None:
            options.setdefault("base_url", fake.base_url)
        client = MiniMaxVideo(options.pop("key", KEY), **options)
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


def calls(fake: FakeMiniMax, path: str) -> int:
    return sum(1 for record in fake.requests if record.path == path)


def downloads(fake: FakeMiniMax) -> int:
    return sum(1 for record in fake.requests if record.path.startswith("/files/"))


def assert_safe(error: BaseException) -> None:
    for text in (str(error), repr(error), getattr(error, "user_message", "")):
        assert KEY not in text
        assert "signature=" not in text and "expires=" not in text


async def failure(call) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await call
    assert_safe(caught.value)
    return caught.value


async def finished(fake: FakeMiniMax, client: MiniMaxVideo, prompt: str = "고래") -> VideoFile:
    task_id = await client.create(VideoRequest(prompt))
    fake.finish_task(task_id)
    status = await client.query(task_id)
    assert status.state is TaskState.SUCCESS
    return await client.retrieve(status.file_id)


# --- the happy path ---------------------------------------------------------------------------


async def test_create_poll_retrieve_download(fake, make):
    client = make(fake)
    task_id = await client.create(VideoRequest("파도 위를 나는 고래, 노을"))
    assert task_id == FIRST_TASK
    states = []
    for step in (0, 2, 10, 60):
        fake.advance_video(step)
        status = await client.query(task_id)
        states.append(status.state)
    assert states == [
        TaskState.PREPARING,
        TaskState.QUEUEING,
        TaskState.PROCESSING,
        TaskState.SUCCESS,
    ]
    assert (status.file_id, status.width, status.height) == (FIRST_FILE, 1366, 768)
    assert status.task_id == FIRST_TASK and status.state.finished
    assert status.request_id == fake.requests[-1].request_id
    file = await client.retrieve(status.file_id)
    assert (file.file_id, file.filename, file.size) == (
        FIRST_FILE,
        "output_205258526306433.mp4",
        CLIP_BYTES,
    )
    assert file.download_url.startswith(f"{fake.base_url}/files/output_205258526306433.mp4?")
    assert "download_url" not in repr(file) and "signature" not in repr(file)
    data = await client.download(file, max_bytes=10_000_000)
    assert data == clip_mp4() and data[4:8] == b"ftyp"
    assert len(fake.video_tasks) == 1
    assert [(r.method, r.path) for r in fake.requests] == [
        ("POST", CREATE),
        ("GET", QUERY),
        ("GET", QUERY),
        ("GET", QUERY),
        ("GET", QUERY),
        ("GET", RETRIEVE),
        ("GET", "/files/output_205258526306433.mp4"),
    ]


async def test_unfinished_states_carry_no_file(fake, make):
    client = make(fake)
    task_id = await client.create(VideoRequest("x"))
    assert await client.query(task_id) == TaskStatus(
        state=TaskState.PREPARING,
        file_id=None,
        width=None,
        height=None,
        task_id=FIRST_TASK,
        request_id=fake.requests[-1].request_id,
    )
    assert not TaskState.PREPARING.finished


async def test_request_body_and_query_parameters(fake, make):
    client = make(fake, group_id="1790000000000000000")
    request = VideoRequest(
        "x", model="MiniMax-Hailuo-02", duration=10, resolution="768P", prompt_optimizer=False
    )
    task_id = await client.create(request)
    await client.query(task_id)
    create, query = fake.requests
    assert create.body == {
        "model": "MiniMax-Hailuo-02",
        "prompt": "x",
        "duration": 10,
        "resolution": "768P",
        "prompt_optimizer": False,
    }
    assert query.body == {"task_id": FIRST_TASK, "GroupId": "1790000000000000000"}
    assert "authorization" not in create.headers
    assert fake.video_tasks[0].body == create.body


async def test_defaults_send_no_prompt_optimizer(fake, make):
    await make(fake).create(VideoRequest("x"))
    assert fake.requests[0].body == {
        "model": "MiniMax-Hailuo-2.3",
        "prompt": "x",
        "duration": 6,
        "resolution": "768P",
    }


async def test_the_download_carries_no_key(fake, make):
    seen: list[httpx.Request] = []
    real = httpx.AsyncHTTPTransport()

    class Spy(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return await real.handle_async_request(request)

    client = make(fake, transport=Spy())
    await client.download(await finished(fake, client), max_bytes=10_000)
    assert [r.url.path for r in seen][-1] == "/files/output_205258526306433.mp4"
    assert "authorization" not in seen[-1].headers
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"
    await real.aclose()


# --- validation -------------------------------------------------------------------------------


def test_the_public_tables():
    assert VIDEO_MODELS == ("MiniMax-Hailuo-2.3", "MiniMax-Hailuo-02")
    assert DURATIONS == (6, 10)
    assert RESOLUTIONS == {
        "MiniMax-Hailuo-2.3": ("768P", "1080P"),
        "MiniMax-Hailuo-02": ("512P", "768P", "1080P"),
    }
    assert VideoRequest("x") == VideoRequest("x", "MiniMax-Hailuo-2.3", 6, "768P")


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (VideoRequest(" \n"), "만들 영상을 설명해 주세요."),
        (
            VideoRequest("가" * 2001),
            "설명이 너무 길어요. 2,000자 이하로 줄여 주세요 (지금 2,001자).",
        ),
        (
            VideoRequest("x", model="T2V-01"),
            "MiniMax 영상 모델은 MiniMax-Hailuo-2.3, MiniMax-Hailuo-02 중에서 골라 주세요.",
        ),
        (VideoRequest("x", duration=5), "영상 길이는 6초 또는 10초로 골라 주세요."),
        (VideoRequest("x", duration=6.0), "영상 길이는 6초 또는 10초로 골라 주세요."),
        (VideoRequest("x", resolution="720P"), "해상도는 768P, 1080P 중에서 골라 주세요."),
        (
            VideoRequest("x", model="MiniMax-Hailuo-02", resolution="4K"),
            "해상도는 512P, 768P, 1080P 중에서 골라 주세요.",
        ),
        (
            VideoRequest("x", resolution="512P"),
            "512P는 MiniMax-Hailuo-02 모델에서만 쓸 수 있어요.",
        ),
        (
            VideoRequest("x", duration=10, resolution="1080P"),
            "10초 영상은 768P로만 만들 수 있어요. 해상도를 768P로 골라 주세요.",
        ),
        (
            VideoRequest("x", model="MiniMax-Hailuo-02", duration=10, resolution="512P"),
            "10초 영상은 768P로만 만들 수 있어요. 해상도를 768P로 골라 주세요.",
        ),
    ],
)
async def test_invalid_requests_are_refused_before_anything_is_sent(fake, make, request_, message):
    with pytest.raises(InvalidInputError) as caught:
        await make(fake).create(request_)
    assert caught.value.user_message == message
    assert fake.requests == []


@pytest.mark.parametrize(
    "request_",
    [
        VideoRequest("가" * 2000),
        VideoRequest("x", duration=10, resolution="768P"),
        VideoRequest("x", resolution="1080P"),
        VideoRequest("x", model="MiniMax-Hailuo-02", resolution="512P"),
        VideoRequest("x", model="MiniMax-Hailuo-02", resolution="1080P"),
    ],
)
async def test_valid_edges_are_sent_and_the_double_agrees(fake, make, request_):
    check_video_request(request_)
    assert await make(fake).create(request_) == FIRST_TASK


def test_the_client_needs_a_key_and_an_http_base():
    with pytest.raises(ValueError):
        MiniMaxVideo("")
    with pytest.raises(ValueError):
        MiniMaxVideo(KEY, base_url="ftp://api.minimax.io")
    with pytest.raises(ValueError):
        MiniMaxVideo(KEY, timeout_s=0)


# --- error mapping ----------------------------------------------------------------------------

AUTH_USER = (
    "MiniMax 인증에 실패했어요. 키가 다른 지역(글로벌/중국) 주소용일 수 있어요. "
    "관리자에게 알려 주세요."
)


@pytest.mark.parametrize(
    ("marker", "kind", "user_message", "log_part"),
    [
        ("1004", ProviderAuthFailed, AUTH_USER, "status 1004 (login fail"),
        ("2049", ProviderAuthFailed, AUTH_USER, "status 2049 (invalid api key)"),
        (
            "1008",
            ProviderOutOfCredit,
            "MiniMax 잔액이 부족해요. 관리자에게 알려 주세요.",
            "status 1008 (insufficient balance)",
        ),
        (
            "1026",
            ContentRefused,
            "MiniMax가 이 설명으로는 영상을 만들 수 없대요. 표현을 바꿔서 다시 시도해 주세요.",
            "status 1026 (input new_sensitive): sensitive input",
        ),
        (
            "2013",
            InvalidProviderRequest,
            "AI 서비스가 요청 내용을 받아들이지 않았어요. 옵션을 바꿔서 다시 시도해 주세요.",
            "status 2013 (invalid params)",
        ),
        (
            "2056",
            ProviderQuotaExhausted,
            "MiniMax 사용 한도를 모두 썼어요. 관리자에게 알려 주세요.",
            "status 2056 (usage limit exceeded)",
        ),
    ],
)
async def test_final_create_errors_are_typed_and_never_retried(
    fake, make, marker, kind, user_message, log_part
):
    error = await failure(make(fake).create(VideoRequest(f"고래 [[{marker}]]")))
    assert type(error) is kind
    assert error.user_message == user_message
    assert error.log_message.startswith(f"MiniMax video_generation failed: {log_part}")
    assert error.request_id == fake.requests[-1].request_id
    assert error.log_message.endswith(f"(request id {error.request_id})")
    assert calls(fake, CREATE) == 1 and fake.video_tasks == []


async def test_a_wrong_key_names_the_regional_hosts(fake, make):
    error = await failure(make(fake, key="bad-key").query("1"))
    assert type(error) is ProviderAuthFailed and error.user_message == AUTH_USER
    assert "https://api.minimax.io" in error.log_message
    assert "https://api.minimaxi.com" in error.log_message
    assert calls(fake, QUERY) == 1


async def test_sensitive_output_fails_the_query_with_a_video_message(fake, make):
    client = make(fake)
    task_id = await client.create(VideoRequest("[[1027]] 고래"))
    fake.advance_video(72)
    error = await failure(client.query(task_id))
    assert type(error) is ContentRefused
    assert error.user_message == (
        "만든 영상이 MiniMax의 안전 기준에 걸렸어요. 설명을 바꿔서 다시 시도해 주세요."
    )
    assert "MiniMax query/video_generation failed: status 1027" in error.log_message


@pytest.mark.parametrize("fail_status", ["Fail", "Failed"])
async def test_a_failed_task_is_a_status_not_an_error(make, fail_status):
    async with FakeMiniMax(video_speed=0, fail_status=fail_status) as fake:
        client = make(fake)
        task_id = await client.create(VideoRequest("고래 [[fail]]"))
        fake.advance_video(1_000)
        status = await client.query(task_id)
        assert (status.state, status.file_id, status.width) == (TaskState.FAIL, None, None)
        assert status.state.finished
        error = status.failure()
        assert type(error) is ProviderError
        assert error.user_message == (
            "MiniMax가 영상을 만들지 못했어요. 설명을 바꾸거나 잠시 후 다시 시도해 주세요."
        )
        assert error.log_message == (
            f"MiniMax video task {task_id} ended in status Fail "
            f"(request id {fake.requests[-1].request_id})"
        )
        assert fake.errors == []


def test_media_words_take_the_right_particles():
    assert with_particle("영상", "을", "를") == "영상을"
    assert with_particle("동영상", "이", "가") == "동영상이"
    assert with_particle("이미지", "을", "를") == "이미지를"
    assert with_particle("이미지", "이", "가") == "이미지가"
    assert input_refused_message("이미지") == (
        "MiniMax가 이 설명으로는 이미지를 만들 수 없대요. 표현을 바꿔서 다시 시도해 주세요."
    )
    assert output_refused_message("동영상") == (
        "만든 동영상이 MiniMax의 안전 기준에 걸렸어요. 설명을 바꿔서 다시 시도해 주세요."
    )


async def test_a_key_echoed_by_the_provider_is_scrubbed(fake, make):
    fake.script_video("create", MiniMaxReply.status(2013, f"invalid params, bad key {KEY}"))
    error = await failure(make(fake).create(VideoRequest("x")))
    assert "bad key ***" in error.log_message


# --- create: retried only when no task can exist ----------------------------------------------


async def test_create_is_retried_on_a_rate_limit_until_it_gives_up(fake, make):
    error = await failure(make(fake).create(VideoRequest("고래 [[1002]]")))
    assert type(error) is ProviderRateLimited
    assert error.user_message == "지금 AI 요청이 몰려 있어요. 잠시 후 다시 시도해 주세요."
    assert calls(fake, CREATE) == 3 and fake.video_tasks == []


async def test_create_retried_after_1002_and_429_makes_exactly_one_task(fake, make):
    fake.script_video(
        "create",
        MiniMaxReply.status(1002),
        MiniMaxReply(http_status=429, body="Too Many Requests"),
        MiniMaxReply.status(1041, "connection limit"),
    )
    client = make(fake, retry=RetryPolicy(attempts=4, initial_s=0.01, max_s=0.02))
    task_id = await client.create(VideoRequest("x"))
    assert calls(fake, CREATE) == 4
    assert [task.task_id for task in fake.video_tasks] == [task_id]


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (MiniMaxReply(http_status=500), ProviderUnavailable),
        (MiniMaxReply(http_status=502, body="Bad Gateway"), ProviderUnavailable),
        (MiniMaxReply(http_status=504, body="Gateway Timeout"), ProviderTimeout),
        (MiniMaxReply.status(1000, "unknown error"), ProviderUnavailable),
        (MiniMaxReply.status(1001, "request timeout"), ProviderTimeout),
        (MiniMaxReply.status(1024, "internal error"), ProviderUnavailable),
    ],
)
async def test_create_is_not_retried_after_a_5xx_or_an_internal_error(fake, make, reply, kind):
    fake.script_video("create", reply)  # only the first attempt would fail
    error = await failure(make(fake).create(VideoRequest("x")))
    assert type(error) is kind
    assert calls(fake, CREATE) == 1 and fake.video_tasks == []


async def test_the_500_marker_is_not_retried(fake, make):
    error = await failure(make(fake).create(VideoRequest("x [[500]]")))
    assert type(error) is ProviderUnavailable
    assert "video_generation answered HTTP 500: 'Internal Server Error'" in error.log_message
    assert error.request_id == fake.requests[0].request_id
    assert calls(fake, CREATE) == 1


async def test_create_is_not_retried_after_a_timeout_even_though_a_task_was_made(fake, make):
    fake.script_video("create", MiniMaxReply(delay_s=1))
    error = await failure(make(fake, timeout_s=0.2).create(VideoRequest("x")))
    assert type(error) is ProviderTimeout
    assert error.user_message == "AI의 응답이 너무 늦어요. 잠시 후 다시 시도해 주세요."
    assert calls(fake, CREATE) == 1
    assert len(fake.video_tasks) == 1, "MiniMax made (and bills) the task: never a second one"


async def test_create_is_retried_when_the_connection_was_never_made(make):
    attempts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.path)
        if len(attempts) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(
            200, json={"task_id": 77, "base_resp": {"status_code": 0, "status_msg": "success"}}
        )

    client = make(base_url="https://api.minimax.io", transport=httpx.MockTransport(handler))
    assert await client.create(VideoRequest("x")) == "77"
    assert attempts == [CREATE, CREATE]


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ReadTimeout, ProviderTimeout),
        (httpx.ReadError, ProviderUnavailable),
        (httpx.RemoteProtocolError, ProviderUnavailable),
        (httpx.WriteError, ProviderUnavailable),
    ],
)
async def test_create_is_not_retried_once_the_request_may_have_left(make, exc, kind):
    attempts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.path)
        raise exc("lost", request=request)

    client = make(base_url="https://api.minimax.io", transport=httpx.MockTransport(handler))
    error = await failure(client.create(VideoRequest("x")))
    assert type(error) is kind and attempts == [CREATE]


async def test_a_refused_connection_is_retried_then_unavailable(make):
    async with FakeMiniMax() as gone:
        base_url = gone.base_url  # stopped on leaving: nothing listens there any more
    error = await failure(make(base_url=base_url).create(VideoRequest("x")))
    assert type(error) is ProviderUnavailable
    assert "MiniMax video_generation: connection failed (ConnectError)" in error.log_message


# --- query and retrieve retry what is transient -----------------------------------------------


async def test_query_and_retrieve_retry_transient_failures(fake, make):
    client = make(fake, timeout_s=0.3)
    task_id = await client.create(VideoRequest("x"))
    fake.finish_task(task_id)
    fake.script_video("query", MiniMaxReply.status(1002), MiniMaxReply(http_status=503))
    fake.script_video("retrieve", MiniMaxReply.status(1024, "internal"), MiniMaxReply(delay_s=1))
    status = await client.query(task_id)
    assert status.state is TaskState.SUCCESS and calls(fake, QUERY) == 3
    file = await client.retrieve(status.file_id)
    assert file.file_id == FIRST_FILE and calls(fake, RETRIEVE) == 3


async def test_query_gives_up_after_the_policy(fake, make):
    fake.script_video("query", *[MiniMaxReply(http_status=502, body="Bad Gateway")] * 3)
    error = await failure(make(fake).query(FIRST_TASK))
    assert type(error) is ProviderUnavailable
    assert "MiniMax query/video_generation answered HTTP 502: 'Bad Gateway'" in error.log_message
    assert calls(fake, QUERY) == 3


async def test_an_unknown_task_is_not_retried(fake, make):
    error = await failure(make(fake).query("12345"))
    assert type(error) is InvalidProviderRequest
    assert "status 2013 (invalid params, task_id not found)" in error.log_message
    assert calls(fake, QUERY) == 1


def answer_transport(answer: dict, seen: list[httpx.Request] | None = None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(200, json=answer, headers={"Trace-Id": "trace-77"})

    return httpx.MockTransport(handler)


OK = {"status_code": 0, "status_msg": "success"}


async def test_an_unknown_status_is_a_provider_error_not_a_crash(make):
    transport = answer_transport({"task_id": "1", "status": "Exploding", "base_resp": OK})
    client = make(base_url="https://api.minimax.io", transport=transport)
    error = await failure(client.query("1"))
    assert type(error) is ProviderError and error.request_id == "trace-77"
    assert "unknown task status 'Exploding'" in error.log_message


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("Preparing", TaskState.PREPARING),
        ("Queueing", TaskState.QUEUEING),
        ("Processing", TaskState.PROCESSING),
        ("Success", TaskState.SUCCESS),
        ("Fail", TaskState.FAIL),
        ("Failed", TaskState.FAIL),
        ("failed", TaskState.FAIL),
    ],
)
def test_status_words(text, state):
    assert TaskState.parse(text) is state


async def test_numeric_ids_and_sizes_are_read(make):
    answer = {
        "task_id": 9,
        "status": "Success",
        "file_id": 123456789,
        "video_width": "1920",
        "video_height": 1080,
        "base_resp": OK,
    }
    client = make(base_url="https://api.minimax.io", transport=answer_transport(answer))
    assert await client.query("9") == TaskStatus(
        TaskState.SUCCESS, "123456789", 1920, 1080, task_id="9", request_id="trace-77"
    )


async def test_success_without_a_file_id_is_an_error(make):
    answer = {"task_id": "9", "status": "Success", "file_id": "", "base_resp": OK}
    client = make(base_url="https://api.minimax.io", transport=answer_transport(answer))
    error = await failure(client.query("9"))
    assert "Success without a file_id" in error.log_message


# --- download ---------------------------------------------------------------------------------


async def test_download_cap_by_the_retrieved_size_fetches_nothing(fake, make):
    client = make(fake)
    file = await finished(fake, client, "고래 [[big]]")
    assert file.size == BIG_BYTES
    assert await client.download(file, max_bytes=1024 * 1024) is None
    assert downloads(fake) == 0
    data = await client.download(file, max_bytes=BIG_BYTES)
    assert len(data) == BIG_BYTES and data[:CLIP_BYTES] == clip_mp4()


async def test_download_cap_by_content_length(fake, make):
    client = make(fake)
    file = await finished(fake, client, "고래 [[big]]")
    unknown_size = VideoFile(file.file_id, file.filename, None, file.download_url)
    assert await client.download(unknown_size, max_bytes=BIG_BYTES - 1) is None
    assert downloads(fake) == 1


async def test_download_cap_without_content_length(fake, make):
    client = make(fake)
    file = await finished(fake, client)
    unknown_size = VideoFile(file.file_id, file.filename, None, file.download_url)
    fake.script_video("download", MiniMaxReply(chunked=True), MiniMaxReply(chunked=True))
    assert await client.download(unknown_size, max_bytes=CLIP_BYTES - 1) is None
    assert await client.download(unknown_size, max_bytes=CLIP_BYTES) == clip_mp4()


async def test_download_stops_reading_as_soon_as_the_cap_is_passed(make):
    served: list[int] = []

    class Endless(httpx.AsyncByteStream):
        async def __aiter__(self):
            for n in range(1_000):
                served.append(n)
                yield bytes(64 * 1024)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Endless())

    client = make(base_url="https://api.minimax.io", transport=httpx.MockTransport(handler))
    file = VideoFile("1", "a.mp4", None, "https://cdn.minimax.test/a.mp4?signature=s")
    assert await client.download(file, max_bytes=100 * 1024) is None
    assert served == [0, 1], "two 64 KiB chunks pass 100 KiB: nothing more is read"


async def test_an_http_url_is_refused_when_the_api_is_https(make):
    seen: list[httpx.Request] = []
    retrieved = {
        "file": {
            "file_id": 5,
            "bytes": 10,
            "filename": "a.mp4",
            "download_url": "http://cdn.minimax.test/a.mp4?expires=1&signature=secret",
        },
        "base_resp": OK,
    }
    client = make(base_url="https://api.minimax.io", transport=answer_transport(retrieved, seen))
    file = await client.retrieve("5")
    assert (file.file_id, file.size) == ("5", 10)
    error = await failure(client.download(file, max_bytes=1_000))
    assert type(error) is ProviderError
    assert error.user_message == (
        "MiniMax가 알려 준 영상 주소가 안전하지 않아 받지 않았어요. 관리자에게 알려 주세요."
    )
    assert "http://cdn.minimax.test/a.mp4 is not https" in error.log_message
    assert [r.url.path for r in seen] == [RETRIEVE], "the http URL was never fetched"


@pytest.mark.parametrize(
    "url", ["ftp://cdn.minimax.test/a.mp4", "/files/a.mp4", "https:///a.mp4", "file:///etc/x"]
)
async def test_other_urls_are_refused_even_for_a_loopback_api(fake, make, url):
    error = await failure(make(fake).download(VideoFile("1", "a.mp4", 5, url), max_bytes=100))
    assert "download URL refused" in error.log_message
    assert downloads(fake) == 0


@pytest.mark.parametrize(
    "location", ["https://elsewhere.test/a.mp4", "/files/output_205258526306433.mp4"]
)
async def test_a_redirect_is_refused_not_followed(fake, make, location):
    client = make(fake)
    file = await finished(fake, client)
    fake.script_video(
        "download", MiniMaxReply(http_status=302, body="", headers={"Location": location})
    )
    error = await failure(client.download(file, max_bytes=10_000))
    assert type(error) is ProviderError
    assert error.user_message == (
        "MiniMax가 알려 준 영상 주소가 안전하지 않아 받지 않았어요. 관리자에게 알려 주세요."
    )
    assert "answered HTTP 302: a redirect to" in error.log_message
    assert "not followed" in error.log_message
    assert downloads(fake) == 1, "neither followed nor retried"


async def test_an_expired_link_is_not_retried_and_a_fresh_one_works(fake, make):
    client = make(fake)
    file = await finished(fake, client)
    fake.advance_video(3_601)
    error = await failure(client.download(file, max_bytes=10_000))
    assert type(error) is ProviderError
    assert error.user_message == (
        "영상 파일 주소가 만료됐거나 잘못됐어요. 잠시 후 다시 시도해 주세요."
    )
    assert error.log_message == (
        f"MiniMax download from {fake.base_url}/files/output_205258526306433.mp4 answered "
        "HTTP 403: the signed link expired or is wrong; retrieve the file again"
    )
    assert downloads(fake) == 1
    fresh = await client.retrieve(file.file_id)
    assert await client.download(fresh, max_bytes=10_000) == clip_mp4()


async def test_a_download_retries_transient_failures(fake, make):
    client = make(fake)
    file = await finished(fake, client)
    fake.script_video(
        "download", MiniMaxReply(http_status=503, body="busy"), MiniMaxReply(http_status=429)
    )
    assert await client.download(file, max_bytes=10_000) == clip_mp4()
    assert downloads(fake) == 3


async def test_a_download_that_never_finishes_times_out(fake, make):
    client = make(fake, download_timeout_s=0.2, retry=RetryPolicy(attempts=2, initial_s=0.01))
    file = await finished(fake, client)
    fake.script_video("download", MiniMaxReply(delay_s=1), MiniMaxReply(delay_s=1))
    error = await failure(client.download(file, max_bytes=10_000))
    assert type(error) is ProviderTimeout and downloads(fake) == 2
    assert f"download from {fake.base_url}/files/output_" in error.log_message
