"""Settings: file + environment precedence, per-instance keys, validation messages."""

from __future__ import annotations

from pathlib import Path

import pytest

import env_manager
from bot.routing_table import routing_table
from env_manager import (
    ConfigError,
    Settings,
    is_placeholder,
    load_settings,
    load_validated,
    parse_patterns,
    validate_settings,
)
from tests.placeholder_cases import PLACEHOLDER_CASES

SECRET = "sk-live-THIS-MUST-NEVER-BE-PRINTED"


def write_env(path: Path, **values: str) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    return path


def full_env(**extra: str) -> dict[str, str]:
    values = {"DISCORD_TOKEN": "token-abc"}
    for i in range(1, 5):
        values |= {
            f"OPENAI_API_KEY_{i}": f"openai-{i}",
            f"MINIMAX_API_KEY_{i}": f"minimax-{i}",
            f"STABILITY_API_KEY_{i}": f"stability-{i}",
        }
    return values | extra


def test_reads_default_env_file_and_environment_wins(tmp_path, monkeypatch):
    write_env(tmp_path / ".env.multi", **full_env(LOG_LEVEL="debug"))
    monkeypatch.setenv("LOG_LEVEL", "warning")
    loaded = load_settings()
    assert loaded.env_file == Path(".env.multi")
    assert loaded.settings.logging.log_level == "WARNING"
    assert loaded.settings.discord.discord_token.get_secret_value() == "token-abc"


def test_env_file_path_from_env_file_variable(tmp_path, monkeypatch):
    other = write_env(tmp_path / "prod.env", DISCORD_TOKEN="from-prod")
    monkeypatch.setenv("ENV_FILE", str(other))
    assert load_settings().settings.discord.discord_token.get_secret_value() == "from-prod"


def test_missing_explicit_env_file_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("ENV_FILE", "/nowhere/.env.multi")
    with pytest.raises(ConfigError, match=r"'/nowhere/\.env\.multi'.*does not exist"):
        load_settings()


def test_missing_default_env_file_means_environment_only(monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    loaded = load_settings()
    assert loaded.env_file is None
    assert loaded.settings.is_single


@pytest.mark.parametrize("provider", ["openai", "minimax", "stability"])
def test_instance_key_wins_over_unsuffixed_fallback(monkeypatch, provider):
    name = {"openai": "OPENAI", "minimax": "MINIMAX", "stability": "STABILITY"}[provider]
    monkeypatch.setenv(f"{name}_API_KEY", "shared")
    monkeypatch.setenv(f"{name}_API_KEY_2", "own-2")
    settings = Settings.build(instance_id="2")
    assert settings.api_key(provider).get_secret_value() == "own-2"
    assert settings.providers.api_key(provider, 3).get_secret_value() == "shared"


def test_placeholders_count_as_missing(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY_1", "your-openai-api-key-1-here")
    monkeypatch.setenv("OPENAI_API_KEY", "")
    assert Settings.build(instance_id="1").api_key("openai") is None


@pytest.mark.parametrize(
    ("instance", "needed"),
    [
        ("1", {"OPENAI_API_KEY_1"}),
        ("2", {"MINIMAX_API_KEY_2", "STABILITY_API_KEY_2"}),
        ("3", {"MINIMAX_API_KEY_3"}),
        ("4", {"OPENAI_API_KEY_4", "MINIMAX_API_KEY_4", "STABILITY_API_KEY_4"}),
    ],
)
def test_each_role_requires_only_its_keys(instance, needed):
    problems = validate_settings(Settings.build(instance_id=instance, discord_token="t"))
    assert {p.split(" ")[0] for p in problems} == needed
    all_keys = full_env()
    keys = {k.lower(): all_keys[k] for k in needed}
    assert validate_settings(Settings.build(instance_id=instance, discord_token="t", **keys)) == []


def test_single_mode_needs_every_provider_and_accepts_instance_4_keys():
    settings = Settings.build(
        discord_token="t", openai_api_key_4="a", minimax_api_key="b", stability_api_key_4="c"
    )
    assert settings.is_single
    assert validate_settings(settings) == []
    problems = validate_settings(Settings.build(discord_token="t"))
    assert len(problems) == 3
    assert all("(or" in p and "_4)" in p for p in problems)


def test_discord_token_always_required(tmp_path):
    write_env(tmp_path / ".env.multi", **full_env(DISCORD_TOKEN="your-discord-bot-token-here"))
    with pytest.raises(ConfigError) as caught:
        load_validated(instance="3")
    assert "DISCORD_TOKEN" in caught.value.report()
    assert "instance 3" in caught.value.report()


@pytest.mark.parametrize("bad", ["0", "5", "two", "1.5"])
def test_instance_id_outside_range_is_rejected(monkeypatch, bad):
    monkeypatch.setenv("INSTANCE_ID", bad)
    with pytest.raises(ConfigError, match="INSTANCE_ID: must be 1, 2, 3, 4 or 'all'"):
        load_settings()


@pytest.mark.parametrize("value", ["", "all", "ALL"])
def test_instance_id_all_or_unset_is_single_mode(monkeypatch, value):
    monkeypatch.setenv("INSTANCE_ID", value)
    assert load_settings().settings.is_single


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("a,,b", "empty entry"),
        ("chat,", "empty entry"),
        ("my chat", "contains a space"),
        ("[abc", "unbalanced"),
        ("#chat", "'#'"),
    ],
)
def test_bad_channel_patterns_name_the_variable_and_entry(monkeypatch, raw, reason):
    monkeypatch.setenv("INSTANCE_2_CHANNEL_PATTERNS", raw)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    report = caught.value.report()
    assert "INSTANCE_2_CHANNEL_PATTERNS" in report
    assert reason in report


LONG = "c" * 101


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("a,,b", "has an empty entry (check for a doubled or trailing comma)"),
        ("chat,", "has an empty entry (check for a doubled or trailing comma)"),
        ("my chat", "entry 'my chat' contains a space, '/' or '#'"),
        ("a/b", "entry 'a/b' contains a space, '/' or '#'"),
        ("[abc", "entry '[abc' has an unbalanced '[' or ']'"),
        ("abc]", "entry 'abc]' has an unbalanced '[' or ']'"),
        (LONG, "entry 'cccccccccccccccccccc'... is longer than 100 characters"),
    ],
)
def test_a_bad_channel_pattern_is_reported_word_for_word(raw: str, problem: str) -> None:
    with pytest.raises(env_manager.SettingsInvalid) as caught:
        Settings.build(instance_3_channel_patterns=raw)
    assert caught.value.problems() == [f"INSTANCE_3_CHANNEL_PATTERNS: {problem}"]


@pytest.mark.parametrize(
    ("raw", "patterns"),
    [
        ("", ()),
        ("비디오-[12]", ("비디오-[12]",)),
        ("c" * 100, ("c" * 100,)),  # Discord's longest channel name
        (" *video* , 영상-?", ("*video*", "영상-?")),
    ],
)
def test_good_channel_patterns_are_kept_as_written(raw: str, patterns: tuple) -> None:
    assert parse_patterns(raw) == patterns


def test_unknown_override_names_are_all_named() -> None:
    with pytest.raises(TypeError) as caught:
        Settings.build(redis_uri="x", log_levle="debug")
    assert str(caught.value) == "unknown settings: log_levle, redis_uri"


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_optional_value_means_unset(monkeypatch, blank: str) -> None:
    monkeypatch.delenv("TMPDIR", raising=False)
    settings = Settings.build(instance_id="3", health_file=blank, dev_guild_id=blank, log_dir=blank)
    assert settings.health_path() == Path("/tmp/mib-health-3.json")
    assert settings.discord.dev_guild_id is None
    assert settings.logging.log_dir is None


def test_custom_patterns_reach_the_routing_table(monkeypatch):
    monkeypatch.setenv("INSTANCE_1_CHANNEL_PATTERNS", " 잡담-* , talk ")
    table = routing_table(load_settings().settings)
    assert table[1].patterns == ("잡담-*", "talk")
    assert table[2].patterns == ("이미지생성-*", "*image*")
    assert table[4].patterns == ()


def test_routing_table_areas_follow_configured_keys():
    settings = Settings.build(**{k.lower(): v for k, v in full_env().items()})
    table = routing_table(settings)
    assert table[3].areas == {"chat", "image", "video"}
    assert routing_table(Settings.build(openai_api_key_1="k"))[1].areas == {"chat"}
    assert routing_table(Settings.build(stability_api_key_2="k"))[2].areas == {"image"}
    assert routing_table(Settings.build(minimax_api_key="k"))[1].areas == {"image", "video"}


def test_every_variable_name_belongs_to_exactly_one_section():
    names = [n for s in Settings.SECTIONS.values() for n in s.model_fields]
    assert len(names) == len(set(names))
    assert {"discord_token", "redis_url", "openai_api_key_3", "log_dir", "health_file"} <= set(
        names
    )


def test_settings_are_reached_through_their_sections(monkeypatch):
    monkeypatch.setenv("REDIS_KEY_PREFIX", "bot2:")
    monkeypatch.setenv("CLAIM_STEP", "0.3")
    monkeypatch.setenv("DEV_GUILD_ID", "1234")
    monkeypatch.setenv("HEALTH_INTERVAL", "7")
    settings = load_settings().settings
    assert settings.fleet.redis_key_prefix == "bot2:"
    assert settings.fleet.claim_step == 0.3
    assert settings.discord.dev_guild_id == 1234
    assert settings.health.health_interval == 7.0


def test_unknown_override_names_are_rejected():
    with pytest.raises(TypeError, match="unknown settings: redis_uri"):
        Settings.build(redis_uri="redis://x")


def test_malformed_values_are_reported_without_their_content(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "loud")
    monkeypatch.setenv("DEV_GUILD_ID", SECRET)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    report = caught.value.report()
    assert "LOG_LEVEL" in report
    assert "DEV_GUILD_ID" in report
    assert SECRET not in report


def test_secrets_never_appear_in_repr_or_reports(monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY_1", SECRET)
    monkeypatch.setenv("INSTANCE_ID", "2")
    loaded = load_settings()
    assert SECRET not in repr(loaded.settings)
    for section in Settings.SECTIONS:
        assert SECRET not in str(getattr(loaded.settings, section).model_dump())
    with pytest.raises(ConfigError) as caught:
        load_validated()
    assert SECRET not in caught.value.report()


def test_parse_patterns_empty_string_means_no_patterns():
    assert parse_patterns("") == ()


def test_every_setting_is_kept_out_of_test_and_sandbox_processes():
    # The sandbox strips these from inherited environments; a new setting must be listed.
    from sandbox.fleet import BOT_SETTING_VARS

    assert [n for n in Settings.fields() if not BOT_SETTING_VARS.match(n.upper())] == []


def test_the_redis_password_in_redis_url_is_a_secret_to_redact():
    settings = Settings.build(
        discord_token="discord-token-value", redis_url="redis://:p%40ss-word@redis:6379/0"
    )
    assert settings.secret_values() == ["discord-token-value", "p%40ss-word", "p@ss-word"]
    plain = Settings.build(discord_token="discord-token-value", redis_url="redis://redis:6379/0")
    assert plain.secret_values() == ["discord-token-value"]


@pytest.mark.parametrize(("value", "placeholder"), sorted(PLACEHOLDER_CASES.items()))
def test_the_placeholder_rule(value: str, placeholder: bool) -> None:
    assert is_placeholder(value) is placeholder


def test_the_placeholder_rule_is_read_from_the_shared_file() -> None:
    assert env_manager.placeholder_globs() == ("your-*-here", "changeme", "<*>")
    assert is_placeholder(None) is True


# ---- the operator's error report, word for word (check-config and start-up print it) ----


def test_a_report_names_the_instance_lists_each_problem_and_says_how_to_fix() -> None:
    report = ConfigError(["FIRST: bad", "SECOND: worse"], instance="2").report()
    assert report == (
        "Configuration error for instance 2: 2 problem(s).\n"
        "  - FIRST: bad\n"
        "  - SECOND: worse\n"
        "Fix the variables in .env.multi (copy .env.multi.example if you have none) or the "
        "environment, then check again with: python -m bot check-config"
    )


def test_a_report_for_one_process_serving_everything_says_single_process_mode() -> None:
    report = ConfigError(["X: y"], instance="all").report()
    assert report.splitlines()[0] == "Configuration error for single-process mode: 1 problem(s)."


@pytest.mark.parametrize(
    ("instance_env", "instance_arg", "scope"),
    [
        (None, None, "single-process mode"),
        ("2", None, "instance 2"),
        ("2", "3", "instance 3"),  # check-config --instance 3 wins over INSTANCE_ID
        (None, "1", "instance 1"),
    ],
)
def test_a_bad_value_is_reported_for_the_instance_being_checked(
    monkeypatch, instance_env, instance_arg, scope
) -> None:
    if instance_env:
        monkeypatch.setenv("INSTANCE_ID", instance_env)
    monkeypatch.setenv("HEALTH_PORT", "eighty")
    with pytest.raises(ConfigError) as caught:
        load_settings(instance=instance_arg)
    assert caught.value.report().splitlines()[:2] == [
        f"Configuration error for {scope}: 1 problem(s).",
        "  - HEALTH_PORT: Input should be a valid integer, unable to parse string as an integer",
    ]


@pytest.mark.parametrize(
    ("instance_env", "scope"), [(None, "single-process mode"), ("3", "instance 3")]
)
def test_a_missing_env_file_is_reported_for_this_instance(monkeypatch, instance_env, scope):
    if instance_env:
        monkeypatch.setenv("INSTANCE_ID", instance_env)
    monkeypatch.setenv("ENV_FILE", "/nowhere/.env.multi")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.report().splitlines()[:2] == [
        f"Configuration error for {scope}: 1 problem(s).",
        "  - env file '/nowhere/.env.multi' (from --env-file or ENV_FILE) does not exist",
    ]


def test_env_file_argument_wins_over_the_env_file_variable(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ENV_FILE", str(write_env(tmp_path / "a.env", DISCORD_TOKEN="from-a")))
    given = write_env(tmp_path / "b.env", **full_env(DISCORD_TOKEN="from-b"))
    loaded = load_settings(given)
    assert loaded.env_file == given
    assert loaded.settings.discord.discord_token.get_secret_value() == "from-b"
    validated = load_validated(given, instance="1")
    assert validated.settings.discord.discord_token.get_secret_value() == "from-b"


def test_a_missing_token_says_where_to_get_one() -> None:
    problems = validate_settings(Settings.build(instance_id="4", **_keys_of(4)))
    assert problems == [
        "DISCORD_TOKEN is missing or still the example placeholder: paste the bot token "
        "from the Discord developer portal (Bot > Reset Token)"
    ]


def _keys_of(instance: int) -> dict[str, str]:
    return {
        f"{kind}_api_key_{instance}": f"{kind}-{instance}"
        for kind in ("openai", "minimax", "stability")
    }


def test_a_bad_list_entry_is_named_by_its_position_never_its_value() -> None:
    with pytest.raises(env_manager.SettingsInvalid) as caught:
        Settings.build(admin_roles="12, s3cret", health_port="x")
    assert str(caught.value) == "2 invalid setting(s)"
    assert caught.value.problems() == [
        "HEALTH_PORT: Input should be a valid integer, unable to parse string as an integer",
        "ADMIN_ROLES, item 2: Input should be a valid integer, unable to parse string as an "
        "integer",
    ]


def test_the_health_file_defaults_to_the_temporary_directory(monkeypatch, tmp_path) -> None:
    health = Settings.build().health
    monkeypatch.delenv("TMPDIR", raising=False)
    assert health.path("2") == Path("/tmp/mib-health-2.json")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert health.path("3") == tmp_path / "mib-health-3.json"
    assert Settings.build(health_file="/run/h.json").health.path("3") == Path("/run/h.json")
