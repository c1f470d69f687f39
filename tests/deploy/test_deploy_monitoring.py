"""The optional monitoring profile: compose services, Prometheus config, Grafana provisioning
and the dashboard, checked structurally (no Docker, no promtool: neither is installed here).

The bot's metric names and labels are the contract with the bot side (README_MULTI.md,
"모니터링"): every expression of the dashboard may use those and nothing else.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .support import COMPOSE_FILE, REPO, interpolate

BOTS = [f"bot-{n}" for n in range(1, 5)]
MONITORING = ["prometheus", "grafana"]
PROFILE = "monitoring"
JOB = "mib-bots"
DATASOURCE_UID = "mib-prometheus"
PROMETHEUS_IMAGE = "prom/prometheus:v3.5.0"
GRAFANA_IMAGE = "grafana/grafana:12.4.3"
# The container paths the provisioning files and compose mounts agree on.
DASHBOARDS_IN_CONTAINER = "/etc/grafana/dashboards"

# --- the metrics contract ------------------------------------------------------------------

# Labels the bot exports on each series (besides `instance`, which every series carries).
METRICS: dict[str, set[str]] = {
    "mib_events_received_total": {"command", "kind"},
    "mib_events_total": {"command", "kind", "outcome"},
    "mib_claims_total": {"result"},
    "mib_takeovers_total": {"command"},
    "mib_provider_errors_total": {"provider", "kind"},
    "mib_jobs": {"state"},
    "mib_job_queue_length": set(),
    "mib_quota_used": {"provider"},
    "mib_quota_remaining": {"provider"},
    "mib_redis_mode": {"mode"},
    "mib_gateway_connected": set(),
    "mib_up": set(),
    # prometheus-client's default process collector
    "process_resident_memory_bytes": set(),
    "process_cpu_seconds_total": set(),
    # Prometheus' own per-target series
    "up": set(),
}
HISTOGRAMS: dict[str, set[str]] = {
    "mib_ack_seconds": {"command"},
    "mib_first_output_seconds": {"command"},
    "mib_completion_seconds": {"command"},
    "mib_provider_request_seconds": {"provider", "operation"},
}
for _name, _labels in HISTOGRAMS.items():
    METRICS[f"{_name}_bucket"] = _labels | {"le"}
    METRICS[f"{_name}_sum"] = set(_labels)
    METRICS[f"{_name}_count"] = set(_labels)
# Every scraped series has these: `instance` (the bot's own, or the relabelled target's,
# "1".."4" either way) and `job`.
TARGET_LABELS = {"instance", "job"}
LABEL_VALUES: dict[str, set[str]] = {
    "outcome": {"answered", "failed", "declined", "refused", "dropped"},
    "mode": {"redis", "warming", "degraded", "local"},
    "result": {"won", "lost"},
    "job": {JOB},
}

PROMQL_FUNCTIONS = {
    "abs", "avg", "avg_over_time", "clamp_max", "clamp_min", "count", "delta", "deriv",
    "histogram_quantile", "increase", "irate", "label_replace", "max", "max_over_time", "min",
    "min_over_time", "quantile", "rate", "round", "sum", "sum_over_time", "topk", "vector",
}  # fmt: skip
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "or", "and",
                   "unless", "bool", "offset"}  # fmt: skip
GROUPING = r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)"


def expression_problems(expr: str, legend: str = "") -> list[str]:
    """Everything in a PromQL expression (and its legend) outside the metrics contract."""
    problems = []
    matchers = re.findall(r'([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"', expr)
    labels = {name for name, _, _ in matchers}
    for name, op, value in matchers:
        if op == "=" and name in LABEL_VALUES and value not in LABEL_VALUES[name]:
            problems.append(f"{name}={value!r} is not one of {sorted(LABEL_VALUES[name])}")
    rest = re.sub(r"\{[^}]*\}", " ", expr)
    for body in re.findall(GROUPING, rest):
        labels |= {label.strip() for label in body.split(",") if label.strip()}
    rest = re.sub(GROUPING, " ", rest)
    rest = re.sub(r"\[[^\]]*\]", " ", rest)  # range selectors
    words = set(re.findall(r"\b[A-Za-z_:][\w:]*", rest))
    functions = {w for w in words if re.search(rf"\b{w}\s*\(", rest)}
    metrics = words - functions - PROMQL_KEYWORDS
    problems += [f"unknown function {f}()" for f in sorted(functions - PROMQL_FUNCTIONS)]
    problems += [f"unknown metric {m}" for m in sorted(metrics - set(METRICS))]
    if not metrics:
        problems.append("no metric")
    known = TARGET_LABELS.union(*(METRICS.get(m, set()) for m in metrics))
    problems += [f"label {label} not on {sorted(metrics)}" for label in sorted(labels - known)]
    for placeholder in re.findall(r"\{\{\s*(\w+)\s*\}\}", legend):
        if placeholder not in known:
            problems.append(f"legend {{{{{placeholder}}}}} not a label of {sorted(metrics)}")
    return problems


# --- fixtures ------------------------------------------------------------------------------


def load_yaml(relative: str) -> Any:
    return yaml.safe_load((REPO / relative).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return load_yaml(COMPOSE_FILE)["services"]


@pytest.fixture(scope="module")
def compose_volumes() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)["volumes"]


@pytest.fixture(scope="module")
def prometheus_config() -> dict[str, Any]:
    return load_yaml("monitoring/prometheus.yml")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(
        (REPO / "monitoring/grafana/dashboards/mib-fleet.json").read_text(encoding="utf-8")
    )


@pytest.fixture(scope="module")
def panels(dashboard) -> list[dict[str, Any]]:
    return dashboard["panels"]


def enabled(services: dict[str, dict[str, Any]], *profiles: str) -> set[str]:
    """The services Compose runs with these --profile values: the ones naming no profile,
    and the ones naming an active profile."""
    return {
        name
        for name, service in services.items()
        if not service.get("profiles") or set(service["profiles"]) & set(profiles)
    }


def mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Container path -> (source, mode) of a service's short-syntax volumes."""
    found = {}
    for volume in service["volumes"]:
        source, target, *mode = volume.split(":")
        found[target] = (source, mode[0] if mode else "rw")
    return found


# --- compose -------------------------------------------------------------------------------


def test_monitoring_services_are_only_in_the_monitoring_profile(services) -> None:
    for name in MONITORING:
        assert services[name]["profiles"] == [PROFILE], name
    for name in ["redis", *BOTS]:
        assert "profiles" not in services[name], name


def test_without_the_profile_compose_runs_exactly_redis_and_the_bots(services) -> None:
    assert enabled(services) == {"redis", *BOTS}
    assert enabled(services, PROFILE) == {"redis", *BOTS, *MONITORING}
    # the fleet depends on nothing of the monitoring, nor shares its volumes
    for name in ["redis", *BOTS]:
        service = services[name]
        assert set(service.get("depends_on", {})) <= {"redis"}, name
        assert not any("prometheus" in v or "grafana" in v for v in service.get("volumes", []))
    assert services["grafana"]["depends_on"] == ["prometheus"]
    assert "depends_on" not in services["prometheus"]


def test_images_are_pinned_to_exact_releases(services) -> None:
    assert services["prometheus"]["image"] == PROMETHEUS_IMAGE
    assert services["grafana"]["image"] == GRAFANA_IMAGE
    for name in MONITORING:
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+", services[name]["image"]), name


def test_prometheus_is_not_published_and_grafana_only_on_loopback(services) -> None:
    prometheus = services["prometheus"]
    assert "ports" not in prometheus and "expose" not in prometheus
    assert prometheus.get("network_mode") is None
    ports = services["grafana"]["ports"]
    assert ports == ["127.0.0.1:3000:3000"]
    host_ip, host_port, container_port = ports[0].split(":")
    assert (host_ip, host_port, container_port) == ("127.0.0.1", "3000", "3000")
    assert services["grafana"].get("network_mode") is None


def test_data_lives_on_named_volumes(services, compose_volumes) -> None:
    assert mounts(services["prometheus"])["/prometheus"] == ("prometheus-data", "rw")
    assert mounts(services["grafana"])["/var/lib/grafana"] == ("grafana-data", "rw")
    assert {"redis-data", "prometheus-data", "grafana-data"} == set(compose_volumes)


def test_config_is_mounted_read_only_from_the_repository(services) -> None:
    provisioning = "./monitoring/grafana/provisioning"
    expected = {
        "prometheus": {"/etc/prometheus/prometheus.yml": "./monitoring/prometheus.yml"},
        "grafana": {
            "/etc/grafana/provisioning/datasources": f"{provisioning}/datasources",
            "/etc/grafana/provisioning/dashboards": f"{provisioning}/dashboards",
            DASHBOARDS_IN_CONTAINER: "./monitoring/grafana/dashboards",
        },
    }
    for name, binds in expected.items():
        found = mounts(services[name])
        for target, source in binds.items():
            assert found[target] == (source, "ro"), (name, target)
            assert (REPO / source).exists(), source


def test_like_the_other_services(services) -> None:
    for name in MONITORING:
        service = services[name]
        assert service["deploy"]["resources"]["limits"]["memory"] == "512M", name
        assert service["restart"] == "unless-stopped"
        assert service["logging"] == services["redis"]["logging"]
        assert "no-new-privileges:true" in service["security_opt"]
        assert service["cap_drop"] == ["ALL"]
        assert service["healthcheck"]["test"][:2] == ["CMD", "wget"]


def test_prometheus_command_reads_the_mounted_config_and_keeps_data_modestly(services) -> None:
    command = services["prometheus"]["command"]
    assert command == [
        "--config.file=/etc/prometheus/prometheus.yml",
        "--storage.tsdb.path=/prometheus",
        "--storage.tsdb.retention.time=15d",
        "--storage.tsdb.retention.size=1GB",
    ]
    assert services["prometheus"]["healthcheck"]["test"][-1] == "http://127.0.0.1:9090/-/ready"


def test_grafana_password_comes_from_the_env_file_and_is_never_required(services) -> None:
    env = services["grafana"]["environment"]
    password = env["GF_SECURITY_ADMIN_PASSWORD"]
    assert password == "${GRAFANA_ADMIN_PASSWORD:-}"
    # not `:?`: a missing password must not stop Compose for redis and the bots
    assert interpolate(password, {}) == ""
    assert interpolate(password, {"GRAFANA_ADMIN_PASSWORD": "pw-0123456789abcdef"}) == (
        "pw-0123456789abcdef"
    )
    assert env["GF_SECURITY_ADMIN_USER"] == "admin"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == (
        f"{DASHBOARDS_IN_CONTAINER}/mib-fleet.json"
    )


def run_grafana_entrypoint(services, tmp_path: Path, password: str) -> subprocess.CompletedProcess:
    """Grafana's entrypoint as the container runs it, with a stand-in for the image's /run.sh."""
    entrypoint = [interpolate(part, {}) for part in services["grafana"]["entrypoint"]]
    assert entrypoint[:2] == ["/bin/sh", "-c"]
    script = entrypoint[2]
    assert script.count("exec /run.sh ") == 1
    run_sh = tmp_path / "run.sh"
    run_sh.write_text('#!/bin/sh\necho "grafana started as $0"\n')
    run_sh.chmod(0o755)
    return subprocess.run(
        ["sh", "-c", script.replace("exec /run.sh ", f"exec {run_sh} "), *entrypoint[3:]],
        env={"PATH": os.environ["PATH"], "GF_SECURITY_ADMIN_PASSWORD": password},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


def test_grafana_refuses_to_start_without_a_password(services, tmp_path: Path) -> None:
    """Grafana alone would fall back to admin/admin."""
    refused = run_grafana_entrypoint(services, tmp_path, "")
    assert refused.returncode == 1
    assert "GRAFANA_ADMIN_PASSWORD" in refused.stderr
    assert "./deploy-multi.sh monitoring start" in refused.stderr
    assert "grafana started" not in refused.stdout

    started = run_grafana_entrypoint(services, tmp_path, "pw-0123456789abcdef")
    assert started.returncode == 0, started.stderr
    assert started.stdout == f"grafana started as {tmp_path / 'run.sh'}\n"


# --- Prometheus ----------------------------------------------------------------------------


def test_prometheus_scrapes_the_four_bots_every_15_seconds(prometheus_config) -> None:
    assert prometheus_config["global"]["scrape_interval"] == "15s"
    assert prometheus_config["global"]["scrape_timeout"] == "10s"
    jobs = prometheus_config["scrape_configs"]
    assert [job["job_name"] for job in jobs] == [JOB]
    job = jobs[0]
    assert job["metrics_path"] == "/metrics"
    assert job.get("scheme", "http") == "http"
    assert job["honor_labels"] is True
    assert "scrape_interval" not in job  # the global 15 s
    assert job["static_configs"] == [
        {"targets": ["bot-1:8080", "bot-2:8080", "bot-3:8080", "bot-4:8080"]}
    ]


def test_the_bots_serve_metrics_where_prometheus_scrapes(services, prometheus_config) -> None:
    """The bot's HEALTH_PORT default is the scraped port, and in the containers it listens
    on every interface (its own default, 127.0.0.1, would refuse Prometheus)."""
    from env_manager import Settings

    fields = Settings.fields()
    assert (fields["health_port"].default, fields["health_host"].default) == (8080, "127.0.0.1")
    targets = prometheus_config["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == [f"{bot}:{fields['health_port'].default}" for bot in BOTS]
    for bot in BOTS:
        assert services[bot]["environment"]["HEALTH_HOST"] == "0.0.0.0", bot
        assert "ports" not in services[bot], bot  # the project network only


def test_honor_labels_is_explained_where_it_is_set() -> None:
    text = (REPO / "monitoring/prometheus.yml").read_text(encoding="utf-8")
    before = text.split("\n    honor_labels: true\n", 1)[0].rsplit("scheme: http", 1)[1]
    assert "instance" in before and "exported_instance" in before


def relabelled_instance(job: dict[str, Any], address: str) -> str:
    """The target's `instance` label after relabel_configs (RE2, anchored, as Prometheus)."""
    labels = {"__address__": address}
    for rule in job.get("relabel_configs", []):
        assert rule.get("action", "replace") == "replace"
        value = ";".join(labels.get(s, "") for s in rule["source_labels"])
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        if match:
            replacement = re.sub(r"\$(\d+)", r"\\\1", rule.get("replacement", "$1"))
            labels[rule["target_label"]] = match.expand(replacement)
    return labels.get("instance", address)


def test_the_targets_own_instance_label_is_the_bots_number(prometheus_config) -> None:
    """`up` and unlabelled series (process_*) get instance "1".."4", like the bots' own."""
    job = prometheus_config["scrape_configs"][0]
    targets = job["static_configs"][0]["targets"]
    assert [relabelled_instance(job, t) for t in targets] == ["1", "2", "3", "4"]
    assert relabelled_instance(job, "bot-1:9999") == "1"  # HEALTH_PORT changed: still "1"
    assert relabelled_instance(job, "redis:6379") == "redis:6379"  # guard: the rule matches


# --- Grafana provisioning ------------------------------------------------------------------


def test_the_datasource_is_prometheus_with_the_fixed_uid(services) -> None:
    config = load_yaml("monitoring/grafana/provisioning/datasources/prometheus.yml")
    assert config["apiVersion"] == 1
    (source,) = config["datasources"]
    assert source["uid"] == DATASOURCE_UID
    assert source["type"] == "prometheus"
    assert source["access"] == "proxy"
    assert source["url"] == "http://prometheus:9090"  # the compose service, on the network
    assert "prometheus" in services
    assert source["isDefault"] is True
    assert source["jsonData"]["timeInterval"] == "15s"


def test_the_dashboard_provider_reads_the_mounted_folder(services) -> None:
    config = load_yaml("monitoring/grafana/provisioning/dashboards/dashboards.yml")
    assert config["apiVersion"] == 1
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == DASHBOARDS_IN_CONTAINER
    source, _ = mounts(services["grafana"])[DASHBOARDS_IN_CONTAINER]
    assert sorted(p.name for p in (REPO / source).glob("*.json")) == ["mib-fleet.json"]
    assert provider["allowUiUpdates"] is False and provider["disableDeletion"] is True


# --- the dashboard -------------------------------------------------------------------------


def test_dashboard_identity(dashboard) -> None:
    assert dashboard["uid"] == "mib-fleet"
    assert dashboard["title"] == "MIB 플릿 (인스턴스 1-4)"
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    assert dashboard["refresh"] == "30s"
    assert dashboard["panels"]


def test_every_panel_has_a_unique_id_a_title_and_the_provisioned_datasource(panels) -> None:
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    for panel in panels:
        assert panel["title"].strip(), panel["id"]
        assert panel["type"] in {"stat", "timeseries"}, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}
            assert target["expr"].strip()
    titles = [p["title"] for p in panels]
    assert len(titles) == len(set(titles))


def test_panels_fit_the_grid_without_overlapping(panels) -> None:
    boxes = []
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        boxes.append((pos["x"], pos["y"], pos["x"] + pos["w"], pos["y"] + pos["h"], panel["title"]))
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
            assert not overlap, f"{a[4]} overlaps {b[4]}"


def test_every_expression_uses_only_the_bots_metrics_and_labels(panels) -> None:
    for panel in panels:
        for target in panel["targets"]:
            problems = expression_problems(target["expr"], target.get("legendFormat", ""))
            assert not problems, f"{panel['title']}: {target['expr']}: {problems}"


@pytest.mark.parametrize(
    ("expr", "legend", "problem"),
    [
        ("sum by (instance) (rate(mib_event_total[5m]))", "", "unknown metric mib_event_total"),
        ("sum by (provider) (mib_jobs)", "", "label provider not on ['mib_jobs']"),
        ('mib_events_total{outcome="answerd"}', "", "outcome='answerd' is not one of"),
        ("rat(mib_events_total[5m])", "", "unknown function rat()"),
        ('up{job="bots"}', "", "job='bots' is not one of ['mib-bots']"),
        ("mib_gateway_connected", "{{provider}}", "legend {{provider}} not a label"),
        ("histogram_quantile(0.5, sum by (le) (rate(mib_ack_seconds[5m])))", "", "mib_ack_sec"),
        ("60", "", "no metric"),
    ],
)
def test_the_expression_check_catches_mistakes(expr: str, legend: str, problem: str) -> None:
    """Guard: a typo in a metric, a label or a value must not pass as 'only known metrics'."""
    problems = expression_problems(expr, legend)
    assert any(problem in p for p in problems), problems


def test_the_dashboard_shows_what_the_operator_needs(panels) -> None:
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    joined = "\n".join(exprs)
    assert 'sum by (instance) (rate(mib_events_total{outcome="answered"}[5m])) * 60' in exprs
    for needle in (
        f'up{{job="{JOB}"}}',
        "mib_up",
        "histogram_quantile(0.5, sum by (le) (rate(mib_ack_seconds_bucket[5m])))",
        "histogram_quantile(0.95, sum by (le) (rate(mib_ack_seconds_bucket[5m])))",
        "mib_completion_seconds_bucket",
        "sum by (provider, kind) (rate(mib_provider_errors_total[5m]))",
        "mib_quota_remaining",
        "sum by (state) (mib_jobs)",
        "mib_job_queue_length",
        "mib_redis_mode",
        "mib_gateway_connected",
        f'process_resident_memory_bytes{{job="{JOB}"}}',
    ):
        assert needle in joined, needle


def test_the_job_name_matches_prometheus(prometheus_config, panels) -> None:
    jobs = set()
    for panel in panels:
        for target in panel["targets"]:
            jobs |= set(re.findall(r'job="([^"]*)"', target["expr"]))
    assert jobs == {prometheus_config["scrape_configs"][0]["job_name"]} == {JOB}


def test_state_panels_name_every_value(panels) -> None:
    """The stat panels map each number the expression can give to a word."""
    by_title = {p["title"]: p for p in panels}
    expected = {
        "인스턴스 상태": {"0": "다운", "1": "서비스 안 함", "2": "정상"},
        "디스코드 게이트웨이 연결": {"0": "끊김", "1": "연결"},
        "Redis 모드": {"0": "local", "1": "degraded", "2": "warming", "3": "redis"},
    }
    for title, words in expected.items():
        (mapping,) = by_title[title]["fieldConfig"]["defaults"]["mappings"]
        assert {k: v["text"] for k, v in mapping["options"].items()} == words, title
