"""FakeMiniMax answers in MiniMax's documented shapes, validates like it, and obeys its markers:
images, then videos (tasks on the double's clock, signed expiring downloads, a real MP4)."""

from __future__ import annotations

import asyncio
import base64
import struct
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest

from sandbox.providers import FakeMiniMax, MiniMaxReply
from sandbox.providers._mp4 import clip_mp4, padded_mp4
from sandbox.providers._png import noise_png, seed_colour, solid_png

from .mp4_check import Mp4, check_mp4
from .png_check import decode_png

KEY = "sandbox-minimax-key-test"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(data[12:29])
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture
async def fake() -> AsyncIterator[FakeMiniMax]:
    async with FakeMiniMax(slow_delay_s=5.0) as server:
        yield server
    assert server.errors == []


async def post(fake: FakeMiniMax, body: object, *, key: str | None = KEY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(f"{fake.base_url}/v1/image_generation", json=body, headers=headers)


def body(**fields: object) -> dict[str, object]:
    return {"model": "image-01", "prompt": "고양이", "response_format": "base64", **fields}


def test_solid_png_is_a_real_png_whose_colour_follows_the_seed():
    png = solid_png(64, 64, 3)
    assert png_size(png) == (64, 64)
    idat_len = struct.unpack(">I", png[33:37])[0]
    pixels = zlib.decompress(png[41 : 41 + idat_len])
    assert len(pixels) == 64 * (1 + 3 * 64)
    assert pixels[1:4] == bytes(seed_colour(3))
    assert solid_png(64, 64, 3) == png and solid_png(64, 64, 4) != png


def test_noise_png_is_a_real_png_too_random_to_compress():
    png = noise_png(512, 512, 3)
    width, height, rows = decode_png(png)
    assert (width, height) == (512, 512)
    assert len(png) == 787_247  # raw pixels are 786_432 bytes: zlib saved nothing
    assert len(set(rows[1:1537])) > 200, "the first row's bytes are noise, not one colour"
    assert noise_png(512, 512, 3) == png and noise_png(512, 512, 4) != png
    assert decode_png(noise_png(7, 5, 1))[:2] == (7, 5)


async def test_base64_answer_has_the_documented_shape(fake):
    response = await post(fake, body(n=3, seed=11, aspect_ratio="16:9"))
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"id", "data", "metadata", "base_resp"}
    assert answer["base_resp"] == {"status_code": 0, "status_msg": "success"}
    assert answer["metadata"] == {"success_count": "3", "failed_count": "0"}
    assert response.headers["trace-id"] == answer["id"] == fake.requests[-1].request_id
    images = [base64.b64decode(item) for item in answer["data"]["image_base64"]]
    assert [png_size(image) for image in images] == [(64, 64)] * 3
    assert images == [solid_png(64, 64, 11 + i) for i in range(3)]
    record = fake.requests[-1]
    assert record.body["n"] == 3 and "authorization" not in record.headers


async def test_url_answer_points_back_at_the_double(fake):
    response = await post(fake, body(response_format="url"))
    (url,) = response.json()["data"]["image_urls"]
    assert url.startswith(fake.base_url + "/files/")
    async with httpx.AsyncClient() as client:
        image = await client.get(url)
    assert image.headers["content-type"] == "image/png" and png_size(image.content) == (64, 64)


@pytest.mark.parametrize("key", [None, "bad-key"])
async def test_missing_or_bad_key_is_status_1004_on_http_200(fake, key):
    response = await post(fake, body(), key=key)
    assert response.status_code == 200
    assert response.json()["base_resp"]["status_code"] == 1004
    assert "login fail" in response.json()["base_resp"]["status_msg"]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"model": "image-02"}, "model must be one of"),
        ({"prompt": ""}, "prompt is required"),
        ({"prompt": "가" * 1501}, "at most 1500"),
        ({"aspect_ratio": "4:5"}, "aspect_ratio must be one of"),
        ({"n": 0}, "n must be an integer in 1..9"),
        ({"n": 10}, "n must be an integer in 1..9"),
        ({"n": True}, "n must be an integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"response_format": "png"}, "response_format must be url or base64"),
        ({"prompt_optimizer": "yes"}, "prompt_optimizer must be a boolean"),
    ],
)
async def test_invalid_parameters_are_status_2013(fake, fields, problem):
    response = await post(fake, body(**fields))
    base = response.json()["base_resp"]
    assert response.status_code == 200 and base["status_code"] == 2013
    assert problem in base["status_msg"]


async def test_prompt_of_exactly_1500_characters_and_nine_images_are_accepted(fake):
    response = await post(fake, body(prompt="가" * 1500, n=9))
    assert len(response.json()["data"]["image_base64"]) == 9


async def test_a_body_that_is_not_json_is_2013(fake):
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{fake.base_url}/v1/image_generation",
            content=b"prompt=x",
            headers={"Authorization": f"Bearer {KEY}"},
        )
    assert response.json()["base_resp"]["status_code"] == 2013


@pytest.mark.parametrize("code", [1002, 1004, 1008, 1026, 1027, 2013, 2049, 2056])
async def test_status_markers(fake, code):
    response = await post(fake, body(prompt=f"고양이 [[{code}]]"))
    answer = response.json()
    assert response.status_code == 200
    assert answer["base_resp"]["status_code"] == code and "data" not in answer
    assert answer["id"] == fake.requests[-1].request_id


async def test_500_marker_is_a_plain_text_http_500(fake):
    response = await post(fake, body(prompt="[[500]]"))
    assert response.status_code == 500 and response.text == "Internal Server Error"
    assert response.headers["trace-id"] == fake.requests[-1].request_id


async def test_refuse_marker_makes_no_image(fake):
    answer = (await post(fake, body(prompt="[[refuse]]", n=2))).json()
    assert answer["base_resp"]["status_code"] == 0
    assert answer["metadata"] == {"success_count": "0", "failed_count": "2"}
    assert answer["data"]["image_base64"] == []


async def test_slow_marker_outlasts_a_short_client_timeout(fake):
    with pytest.raises(httpx.ReadTimeout):
        async with httpx.AsyncClient(timeout=0.3) as client:
            await client.post(
                f"{fake.base_url}/v1/image_generation",
                json=body(prompt="[[slow]]"),
                headers={"Authorization": f"Bearer {KEY}"},
            )
    assert fake.slow_delay_s > 0.3


async def test_scripted_replies_come_first_and_in_order(fake):
    fake.script(MiniMaxReply.status(1002), MiniMaxReply(success_count=1, counts_as_numbers=True))
    first = (await post(fake, body(prompt="[[2056]]"))).json()
    second = (await post(fake, body(n=2))).json()
    assert first["base_resp"]["status_code"] == 1002
    assert second["metadata"] == {"success_count": 1, "failed_count": 1}
    assert fake.scripted_left == 0
    assert [r.status for r in fake.requests] == [200, 200]


async def test_big_marker_serves_large_valid_pngs_that_follow_the_seed(fake):
    answer = (await post(fake, body(prompt="고양이 [[big]]", n=2, seed=21))).json()
    assert answer["base_resp"] == {"status_code": 0, "status_msg": "success"}
    assert answer["metadata"] == {"success_count": "2", "failed_count": "0"}
    images = [base64.b64decode(item) for item in answer["data"]["image_base64"]]
    assert [decode_png(image)[:2] for image in images] == [(512, 512), (512, 512)]
    assert [len(image) > 300_000 for image in images] == [True, True]
    assert images == [noise_png(512, 512, 21), noise_png(512, 512, 22)]


async def test_big_marker_by_url_and_scripted(fake):
    fake.script(MiniMaxReply(big=True))
    scripted = (await post(fake, body(seed=5))).json()
    assert base64.b64decode(scripted["data"]["image_base64"][0]) == noise_png(512, 512, 5)
    answer = (await post(fake, body(prompt="[[BIG]]", response_format="url"))).json()
    (url,) = answer["data"]["image_urls"]
    async with httpx.AsyncClient() as client:
        image = await client.get(url)
    assert image.headers["content-type"] == "image/png"
    assert decode_png(image.content)[:2] == (512, 512) and len(image.content) == 787_247


async def test_without_big_the_images_stay_small(fake):
    answer = (await post(fake, body(prompt="고양이", seed=21))).json()
    (image,) = [base64.b64decode(item) for item in answer["data"]["image_base64"]]
    assert decode_png(image)[:2] == (64, 64) and len(image) < 1_000
    refused = (await post(fake, body(prompt="[[refuse]] [[big]]", n=2))).json()
    assert refused["data"]["image_base64"] == [], "the first marker wins, as documented"


# --- videos -----------------------------------------------------------------------------------

CLIP_BYTES = 4_748


@pytest.fixture
async def video() -> AsyncIterator[FakeMiniMax]:
    """The video clock frozen (speed 0): only advance_video moves it."""
    async with FakeMiniMax(
        video_prepare_s=2, video_queue_s=10, video_process_s=60, video_speed=0
    ) as server:
        yield server
    assert server.errors == []


def video_body(**fields: object) -> dict[str, object]:
    return {"model": "MiniMax-Hailuo-2.3", "prompt": "파도 위의 고래", **fields}


async def create(fake: FakeMiniMax, body: object, *, key: str | None = KEY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(f"{fake.base_url}/v1/video_generation", json=body, headers=headers)


async def get(
    fake: FakeMiniMax, path: str, params: dict[str, str], *, key: str | None = KEY
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(f"{fake.base_url}{path}", params=params, headers=headers)


async def query(fake: FakeMiniMax, task_id: str) -> dict[str, object]:
    response = await get(fake, "/v1/query/video_generation", {"task_id": task_id})
    assert response.status_code == 200
    assert response.headers["trace-id"] == fake.requests[-1].request_id
    return response.json()


async def retrieve(fake: FakeMiniMax, file_id: str) -> dict[str, object]:
    return (await get(fake, "/v1/files/retrieve", {"file_id": file_id})).json()


async def download(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(url)


async def new_task(fake: FakeMiniMax, **fields: object) -> str:
    answer = (await create(fake, video_body(**fields))).json()
    assert answer["base_resp"] == {"status_code": 0, "status_msg": "success"}, answer
    return answer["task_id"]


async def finished_file(fake: FakeMiniMax, **fields: object) -> dict[str, object]:
    task_id = await new_task(fake, **fields)
    fake.finish_task(task_id)
    return (await retrieve(fake, (await query(fake, task_id))["file_id"]))["file"]


def test_the_clip_is_a_real_one_second_h264_mp4():
    data = clip_mp4()
    assert len(data) == CLIP_BYTES and data[4:8] == b"ftyp"
    assert check_mp4(data) == Mp4(
        top=(b"ftyp", b"moov", b"free", b"mdat"),
        brand=b"isom",
        codec=b"avc1",
        width=128,
        height=72,
        duration_s=1.0,
    )


def test_the_padded_mp4_is_the_clip_plus_one_free_box_of_the_exact_size():
    data = padded_mp4(3 * 1024 * 1024)
    assert len(data) == 3_145_728 and data[:CLIP_BYTES] == clip_mp4()
    info = check_mp4(data)
    assert info.top == (b"ftyp", b"moov", b"free", b"mdat", b"free")
    assert (info.codec, info.width, info.height, info.duration_s) == (b"avc1", 128, 72, 1.0)
    with pytest.raises(ValueError):
        padded_mp4(CLIP_BYTES + 7)


def test_the_mp4_checker_refuses_a_broken_box():
    data = bytearray(clip_mp4())
    data[3] += 1  # ftyp claims one byte more than it has: every box after it is misread
    with pytest.raises(AssertionError):
        check_mp4(bytes(data))
    with pytest.raises(AssertionError):
        check_mp4(clip_mp4()[:-1])


async def test_create_answers_a_task_id_and_records_the_task(video):
    response = await create(video, video_body(duration=10, prompt_optimizer=False))
    answer = response.json()
    assert response.status_code == 200 and set(answer) == {"task_id", "base_resp"}
    assert answer == {
        "task_id": "301546890112001",
        "base_resp": {"status_code": 0, "status_msg": "success"},
    }
    assert response.headers["trace-id"] == video.requests[-1].request_id
    (task,) = video.video_tasks
    assert task.task_id == "301546890112001" and task.state == "Preparing"
    assert task.body == {
        "model": "MiniMax-Hailuo-2.3",
        "prompt": "파도 위의 고래",
        "duration": 10,
        "prompt_optimizer": False,
    }
    assert "authorization" not in video.requests[-1].headers
    assert await new_task(video) == "301546890112002"


async def test_a_task_walks_through_its_states_on_the_doubles_clock(video):
    task_id = await new_task(video)
    seen = []
    for step in (0, 1.9, 0.1, 9.9, 0.1, 59.9, 0.1):
        video.advance_video(step)
        answer = await query(video, task_id)
        seen.append((answer["status"], answer["file_id"], answer["video_width"]))
    assert seen == [
        ("Preparing", "", 0),
        ("Preparing", "", 0),
        ("Queueing", "", 0),
        ("Queueing", "", 0),
        ("Processing", "", 0),
        ("Processing", "", 0),
        ("Success", "205258526306433", 1366),
    ]
    assert answer == {
        "task_id": task_id,
        "status": "Success",
        "file_id": "205258526306433",
        "video_width": 1366,
        "video_height": 768,
        "base_resp": {"status_code": 0, "status_msg": "success"},
    }
    assert video.video_tasks[0].state == "Success"


async def test_the_clock_runs_at_video_speed_and_can_be_frozen():
    async with FakeMiniMax(
        video_prepare_s=2, video_queue_s=10, video_process_s=60, video_speed=2_000
    ) as fake:
        task_id = await new_task(fake)  # 72 s on the double's clock: 36 ms of real time
        await asyncio.sleep(0.1)
        assert (await query(fake, task_id))["status"] == "Success"
        fake.video_speed = 0
        frozen = fake.video_clock()
        later = await new_task(fake)
        await asyncio.sleep(0.05)
        assert fake.video_clock() == frozen
        assert (await query(fake, later))["status"] == "Preparing"
        assert fake.errors == []


@pytest.mark.parametrize(
    ("fields", "size"),
    [
        ({}, [1366, 768]),
        ({"resolution": "1080P"}, [1920, 1080]),
        ({"model": "MiniMax-Hailuo-02", "resolution": "512P"}, [912, 512]),
    ],
)
async def test_the_reported_size_follows_the_resolution(video, fields, size):
    task_id = await new_task(video, **fields)
    video.finish_task(task_id)
    answer = await query(video, task_id)
    assert [answer["video_width"], answer["video_height"]] == size


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"model": "T2V-01"}, "model must be one of MiniMax-Hailuo-2.3, MiniMax-Hailuo-02"),
        ({"model": None}, "model must be one of MiniMax-Hailuo-2.3, MiniMax-Hailuo-02"),
        ({"prompt": " "}, "prompt is required"),
        ({"prompt": "가" * 2001}, "prompt length must be at most 2000 characters"),
        ({"duration": 5}, "duration must be 6 or 10"),
        ({"duration": 6.0}, "duration must be 6 or 10"),
        ({"duration": "6"}, "duration must be 6 or 10"),
        ({"resolution": "720P"}, "resolution 720P is not supported by MiniMax-Hailuo-2.3"),
        ({"resolution": "512P"}, "resolution 512P is not supported by MiniMax-Hailuo-2.3"),
        ({"duration": 10, "resolution": "1080P"}, "10s videos support 768P only"),
        (
            {"model": "MiniMax-Hailuo-02", "duration": 10, "resolution": "512P"},
            "10s videos support 768P only",
        ),
        ({"prompt_optimizer": "no"}, "prompt_optimizer must be a boolean"),
    ],
)
async def test_invalid_video_parameters_are_2013_and_make_no_task(video, fields, problem):
    response = await create(video, video_body(**fields))
    base = response.json()["base_resp"]
    assert response.status_code == 200 and base["status_code"] == 2013
    assert base["status_msg"] == f"invalid params, {problem}"
    assert "task_id" not in response.json() and video.video_tasks == []


async def test_valid_edges_are_accepted(video):
    await new_task(video, prompt="가" * 2000, duration=10, resolution="768P")
    await new_task(video, model="MiniMax-Hailuo-02", resolution="1080P", duration=6)
    await new_task(video, prompt_optimizer=True)
    assert len(video.video_tasks) == 3


async def test_a_video_body_that_is_not_json_is_2013(video):
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{video.base_url}/v1/video_generation",
            content=b"prompt=x",
            headers={"Authorization": f"Bearer {KEY}"},
        )
    assert response.json()["base_resp"]["status_code"] == 2013 and video.video_tasks == []


@pytest.mark.parametrize("key", [None, "bad-key"])
async def test_every_video_endpoint_needs_the_key(video, key):
    task_id = await new_task(video)
    video.finish_task(task_id)
    answers = [
        (await create(video, video_body(), key=key)).json(),
        (await get(video, "/v1/query/video_generation", {"task_id": task_id}, key=key)).json(),
        (await get(video, "/v1/files/retrieve", {"file_id": "205258526306433"}, key=key)).json(),
    ]
    assert [a["base_resp"]["status_code"] for a in answers] == [1004, 1004, 1004]
    assert all(set(a) == {"base_resp"} for a in answers)
    assert len(video.video_tasks) == 1


async def test_unknown_ids_and_unfinished_files_are_2013(video):
    task_id = await new_task(video)
    unknown = await query(video, "999")
    assert unknown == {
        "base_resp": {"status_code": 2013, "status_msg": "invalid params, task_id not found"}
    }
    assert (await retrieve(video, "205258526306433"))["base_resp"] == {
        "status_code": 2013,
        "status_msg": "invalid params, file_id not found",
    }, "the task has not succeeded yet"
    video.finish_task(task_id)
    assert (await retrieve(video, "205258526306433"))["base_resp"]["status_code"] == 0


async def test_retrieve_shape_and_the_download(video):
    task_id = await new_task(video)
    video.advance_video(72)
    file_id = (await query(video, task_id))["file_id"]
    answer = await retrieve(video, file_id)
    info = answer["file"]
    assert answer["base_resp"] == {"status_code": 0, "status_msg": "success"}
    url = info.pop("download_url")
    assert info == {
        "file_id": 205258526306433,  # a number here, a string in the query answer
        "bytes": CLIP_BYTES,
        "created_at": int(video.video_epoch()),
        "filename": "output_205258526306433.mp4",
        "purpose": "video_generation",
    }
    expires = int(video.video_epoch()) + 3600
    assert url.startswith(
        f"{video.base_url}/files/output_205258526306433.mp4?expires={expires}&signature="
    )
    response = await download(url)
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    assert response.headers["content-length"] == str(CLIP_BYTES)
    assert response.content == clip_mp4()
    assert video.requests[-1].path == "/files/output_205258526306433.mp4"
    assert video.requests[-1].status == 200


async def test_download_links_are_signed_and_expire(video):
    url = (await finished_file(video))["download_url"]
    assert (await download(url.replace("signature=", "signature=0"))).status_code == 403
    assert (await download(url.split("&")[0])).status_code == 403
    video.advance_video(3599)
    assert (await download(url)).status_code == 200
    video.advance_video(2)
    expired = await download(url)
    assert expired.status_code == 403 and "Request has expired" in expired.text
    fresh = (await retrieve(video, "205258526306433"))["file"]["download_url"]
    assert fresh != url and (await download(fresh)).status_code == 200


async def test_download_ttl_is_a_parameter():
    async with FakeMiniMax(video_speed=0, download_ttl_s=10) as fake:
        url = (await finished_file(fake))["download_url"]
        fake.advance_video(11)
        assert (await download(url)).status_code == 403
        assert fake.errors == []


@pytest.mark.parametrize("code", [1002, 1004, 1008, 1026, 2013, 2049, 2056])
async def test_video_status_markers_make_no_task(video, code):
    response = await create(video, video_body(prompt=f"고래 [[{code}]]"))
    assert response.status_code == 200
    assert response.json()["base_resp"]["status_code"] == code
    assert "task_id" not in response.json() and video.video_tasks == []
    assert response.headers["trace-id"] == video.requests[-1].request_id


async def test_video_500_marker_is_plain_text_and_makes_no_task(video):
    response = await create(video, video_body(prompt="[[500]]"))
    assert response.status_code == 500 and response.text == "Internal Server Error"
    assert video.video_tasks == []


@pytest.mark.parametrize(("fail_status", "status"), [("Fail", "Fail"), ("Failed", "Failed")])
async def test_fail_marker_ends_the_task_in_fail(fail_status, status):
    async with FakeMiniMax(video_speed=0, fail_status=fail_status) as fake:
        task_id = await new_task(fake, prompt="고래 [[fail]]")
        assert (await query(fake, task_id))["status"] == "Preparing"
        fake.advance_video(72)
        answer = await query(fake, task_id)
        assert answer == {
            "task_id": task_id,
            "status": status,
            "file_id": "",
            "video_width": 0,
            "video_height": 0,
            "base_resp": {"status_code": 0, "status_msg": "success"},
        }
        assert fake.video_tasks[0].state == "Fail"
        assert (await retrieve(fake, "205258526306433"))["base_resp"]["status_code"] == 2013
        assert fake.errors == []


async def test_1027_marker_fails_at_the_end_with_the_output_code(video):
    task_id = await new_task(video, prompt="[[1027]] 고래")
    video.advance_video(71)
    assert (await query(video, task_id))["status"] == "Processing"
    video.advance_video(1)
    answer = await query(video, task_id)
    assert answer["status"] == "Fail"
    assert answer["base_resp"] == {"status_code": 1027, "status_msg": "output new_sensitive"}


async def test_slow_marker_processes_much_longer(video):
    task_id = await new_task(video, prompt="고래 [[SLOW]]")
    video.advance_video(2 + 10 + 599)  # Processing lasts 600 s instead of 60
    assert (await query(video, task_id))["status"] == "Processing"
    video.advance_video(1)
    assert (await query(video, task_id))["status"] == "Success"


async def test_big_marker_serves_a_valid_mp4_of_three_mib(video):
    info = await finished_file(video, prompt="고래 [[big]]")
    assert info["bytes"] == 3_145_728
    response = await download(info["download_url"])
    assert response.headers["content-length"] == "3145728"
    assert check_mp4(response.content).top[-1] == b"free"
    assert response.content[:CLIP_BYTES] == clip_mp4()


async def test_finish_and_fail_end_a_task_at_once(video):
    first, second = await new_task(video), await new_task(video)
    video.finish_task(first)
    video.fail_task(second, code=1027, message="output sensitive, scripted")
    assert [t.state for t in video.video_tasks] == ["Success", "Fail"]
    answer = await query(video, second)
    assert answer["base_resp"] == {
        "status_code": 1027,
        "status_msg": "output sensitive, scripted",
    }
    with pytest.raises(KeyError):
        video.finish_task("404")


async def test_scripted_create_replies_come_before_markers(video):
    video.script_video(
        "create",
        MiniMaxReply.status(1002),
        MiniMaxReply(http_status=429, body="Too Many Requests"),
        MiniMaxReply(big=True),
    )
    first = await create(video, video_body(prompt="[[fail]]"))
    second = await create(video, video_body())
    third = await create(video, video_body(prompt="[[fail]]"))
    assert first.json()["base_resp"]["status_code"] == 1002
    assert (second.status_code, second.text) == (429, "Too Many Requests")
    assert video.video_scripted_left("create") == 0
    (task,) = video.video_tasks
    assert task.task_id == third.json()["task_id"] and task.big
    video.advance_video(72)
    assert task.state == "Success", "a scripted reply replaces the prompt's marker"


async def test_a_delayed_create_makes_the_task_before_answering(video):
    video.script_video("create", MiniMaxReply(delay_s=5))
    with pytest.raises(httpx.ReadTimeout):
        async with httpx.AsyncClient(timeout=0.3) as client:
            await client.post(
                f"{video.base_url}/v1/video_generation",
                json=video_body(),
                headers={"Authorization": f"Bearer {KEY}"},
            )
    assert len(video.video_tasks) == 1, "the client timed out, but the task was paid for"


async def test_scripted_query_retrieve_and_download_replies(video):
    task_id = await new_task(video)
    video.finish_task(task_id)
    video.script_video("query", MiniMaxReply.status(1002), MiniMaxReply())
    video.script_video("retrieve", MiniMaxReply(http_status=503, body="busy"))
    assert (await query(video, task_id))["base_resp"]["status_code"] == 1002
    assert (await query(video, task_id))["status"] == "Success"
    busy = await get(video, "/v1/files/retrieve", {"file_id": "205258526306433"})
    assert (busy.status_code, busy.text) == (503, "busy")
    url = (await retrieve(video, "205258526306433"))["file"]["download_url"]
    video.script_video(
        "download",
        MiniMaxReply(http_status=302, body="", headers={"Location": "https://elsewhere.test/x"}),
        MiniMaxReply(chunked=True),
    )
    async with httpx.AsyncClient(follow_redirects=False) as client:
        moved = await client.get(url)
        chunked = await client.get(url)
    assert moved.status_code == 302 and moved.headers["location"] == "https://elsewhere.test/x"
    assert chunked.status_code == 200 and "content-length" not in chunked.headers
    assert chunked.headers["transfer-encoding"] == "chunked"
    assert chunked.content == clip_mp4()
    assert [video.video_scripted_left(e) for e in ("query", "retrieve", "download")] == [0, 0, 0]


async def test_get_records_hold_the_query_and_downloads_no_signature(video):
    url = (await finished_file(video))["download_url"]
    await download(url)
    query_record, retrieve_record, download_record = video.requests[-3:]
    assert query_record.body == {"task_id": "301546890112001"}
    assert retrieve_record.body == {"file_id": "205258526306433"}
    assert download_record.body is None and "signature" not in download_record.path


async def test_images_still_work_next_to_videos(video):
    answer = (await post(video, body(seed=3))).json()
    assert base64.b64decode(answer["data"]["image_base64"][0]) == solid_png(64, 64, 3)
    url = (await post(video, body(response_format="url"))).json()["data"]["image_urls"][0]
    assert (await download(url)).headers["content-type"] == "image/png"
