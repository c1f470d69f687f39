#!/usr/bin/env bash
#
# deploy-multi.sh - 멀티 인스턴스 디스코드 봇 배포 도구 (Linux / macOS)
#
#   ./deploy-multi.sh start      설정 검사 -> 이미지 빌드 -> 4개 인스턴스 + Redis 시작
#   ./deploy-multi.sh status     컨테이너 상태 + 플릿 요약
#   ./deploy-multi.sh update     무중단 업데이트 (bot-1..bot-4 를 하나씩 교체)
#   ./deploy-multi.sh monitoring start|stop|status   Prometheus + Grafana (선택)
#   ./deploy-multi.sh help       전체 사용법
#
# Always runs `docker compose -p <name> -f docker-compose.multi.yml ...` from the folder this
# script lives in. Exit codes: 0 ok, 1 runtime failure, 2 usage / preflight failure.
# Never prints a secret value: only key names.
#
# Works with bash 3.2+ (macOS /bin/bash too).

set -euo pipefail

# --- constants and tunables --------------------------------------------------------------

readonly COMPOSE_FILE_NAME="docker-compose.multi.yml"
readonly ENV_FILE=".env.multi"
readonly ENV_EXAMPLE=".env.multi.example"
readonly DEFAULT_PROJECT_NAME="discord-multi-bot"
readonly INSTANCES="1 2 3 4"
readonly PROVIDERS="OPENAI_API_KEY MINIMAX_API_KEY STABILITY_API_KEY"
# The placeholder rule (what counts as a key not filled in yet), shared with env_manager.py
# and deploy-multi.bat: one glob a line, matched without regard to case.
readonly PLACEHOLDER_FILE="bot/placeholders.txt"
PLACEHOLDER_GLOBS=()
# The passwords the script makes or accepts: REDIS_PASSWORD goes into REDIS_URL as it is, so
# URL-safe characters only; GRAFANA_ADMIN_PASSWORD follows the same rule.
readonly PASSWORD_RE='^[A-Za-z0-9._~-]+$'
readonly PASSWORD_MIN_LENGTH=16
readonly REDIS_PASSWORD_COMMENT="# Redis 비밀번호: 배포 스크립트가 만들었습니다. 바꾸는 법은 README_MULTI.md"
readonly GRAFANA_PASSWORD_COMMENT="# Grafana admin 비밀번호: 배포 스크립트가 만들었습니다. README_MULTI.md 의 모니터링 참고"
# What stop / status / logs give Compose when .env.multi has no REDIS_PASSWORD yet.
readonly REDIS_PASSWORD_STAND_IN="stand-in-for-a-command-that-creates-no-container"
# The optional compose profile and its services (docker-compose.multi.yml).
readonly MONITORING_PROFILE="monitoring"
readonly MONITORING_SERVICES="prometheus grafana"
readonly GRAFANA_URL="http://localhost:3000"

readonly EXIT_RUNTIME=1
readonly EXIT_USAGE=2

# Overridable from the environment (tests use tiny values).
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-300}"          # seconds to wait for one container to be healthy
HEALTH_POLL_INTERVAL="${HEALTH_POLL_INTERVAL:-3}" # seconds between two health polls
LOG_TAIL="${LOG_TAIL:-200}"                      # lines shown by `logs`

PROG="./deploy-multi.sh"

# --- output ------------------------------------------------------------------------------

O_BOLD="" O_GREEN="" O_BLUE="" O_RESET=""
E_RED="" E_YELLOW="" E_RESET=""
if [ -z "${NO_COLOR:-}" ] && [ "${TERM:-}" != "dumb" ]; then
    if [ -t 1 ]; then
        O_BOLD=$'\033[1m' O_GREEN=$'\033[32m' O_BLUE=$'\033[34m' O_RESET=$'\033[0m'
    fi
    if [ -t 2 ]; then
        E_RED=$'\033[31m' E_YELLOW=$'\033[33m' E_RESET=$'\033[0m'
    fi
fi

say() { printf '%s\n' "$*"; }
info() { printf '%s==>%s %s\n' "${O_BOLD}${O_BLUE}" "$O_RESET" "$*"; }
ok() { printf '%s[OK]%s %s\n' "$O_GREEN" "$O_RESET" "$*"; }
warn() { printf '%s[경고]%s %s\n' "$E_YELLOW" "$E_RESET" "$*" >&2; }
error() { printf '%s[오류]%s %s\n' "$E_RED" "$E_RESET" "$*" >&2; }
die() {
    local code=$1
    shift
    error "$@"
    exit "$code"
}

usage() {
    cat <<EOF
사용법: $PROG <명령> [옵션]

명령:
  start [--no-wait]    설정 검사 후 이미지를 빌드하고 Redis + bot-1..bot-4 를 시작합니다.
                       (기본: 4개 모두 healthy 가 될 때까지 기다린 뒤 상태를 보여 줍니다)
                       $ENV_FILE 에 REDIS_PASSWORD 가 없으면 만들어 적습니다 (값은 출력 안 함).
  stop                 모두(모니터링 포함) 중지하고 컨테이너를 지웁니다 (데이터 볼륨은 유지).
  restart              설정 검사 후 stop + start (.env.multi 변경을 반영할 때).
                       REDIS_PASSWORD 는 start 와 같이 없으면 만듭니다.
  status               컨테이너 상태(state/health)와 플릿 요약(bot-4 가 Redis 에서 읽음).
  logs [n|all] [-f] [--tail N]
                       로그 보기. n = 인스턴스 번호(1-4), redis, prometheus 또는 grafana.
                       기본 all (봇과 Redis).
                       -f 는 계속 따라가기 (Ctrl+C 로 종료).
  update               무중단 업데이트: 설정 검사 -> 빌드 -> Redis 이미지 갱신 ->
                       bot-1..bot-4 를 하나씩 교체하고 각각 healthy 가 되면 다음으로.
                       REDIS_PASSWORD 가 없으면 만들지 않고 멈춥니다 (먼저 restart).
  monitoring start|stop|status
                       (선택) Prometheus + Grafana, 봇과 따로 켜고 끕니다.
                       start: 둘을 시작하고 Grafana 가 준비되면 주소를 알려 줍니다
                       ($GRAFANA_URL, 이 컴퓨터에서만 열림). $ENV_FILE 에
                       GRAFANA_ADMIN_PASSWORD 가 없으면 만들어 적습니다 (값은 출력 안 함).
                       stop: 둘만 중지 (수집한 데이터는 유지). status: 상태와 수집 대상.
  help                 이 도움말.

환경 변수:
  HEALTH_TIMEOUT=$HEALTH_TIMEOUT        인스턴스 하나가 healthy 가 되기를 기다리는 최대 시간(초)
  HEALTH_POLL_INTERVAL=$HEALTH_POLL_INTERVAL    상태 확인 간격(초)
  LOG_TAIL=$LOG_TAIL              logs 가 보여 줄 줄 수
  NO_COLOR=1                  색 끄기

종료 코드: 0 성공, 1 실행 실패, 2 사용법/사전 점검 실패

처음이라면:
  cp $ENV_EXAMPLE $ENV_FILE     # 키를 채운 뒤
  $PROG start
EOF
}

# --- compose -----------------------------------------------------------------------------

# The project name is the top-level `name:` of the compose file; passing it with -p as well
# keeps a stray COMPOSE_PROJECT_NAME in the environment from pointing us at another project.
read_project_name() {
    local line name=""
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line%$'\r'}
        case $line in
            name:*)
                name=${line#name:}
                name=${name%%#*}
                name=${name//[[:space:]\"\']/}
                break
                ;;
        esac
    done <"$COMPOSE_FILE_NAME"
    printf '%s' "${name:-$DEFAULT_PROJECT_NAME}"
}

# A compose profile every compose call enables (--profile) when set: the monitoring commands
# and stop set it to $MONITORING_PROFILE; otherwise Compose sees redis and the bots only.
COMPOSE_PROFILE=""

# --env-file: Compose fills in ${REDIS_PASSWORD}, ${REDIS_URL} and ${GRAFANA_ADMIN_PASSWORD}
# from .env.multi.
compose() {
    if [ -n "$COMPOSE_PROFILE" ]; then
        set -- --profile "$COMPOSE_PROFILE" "$@"
    fi
    docker compose -p "$PROJECT_NAME" -f "$COMPOSE_FILE_NAME" --env-file "$ENV_FILE" "$@"
}

# --- preflight: docker -------------------------------------------------------------------

require_docker() {
    if ! command -v docker >/dev/null 2>&1; then
        error "docker 명령을 찾을 수 없습니다. Docker 를 먼저 설치하세요."
        say "  Linux (Docker Engine):   https://docs.docker.com/engine/install/" >&2
        say "  Windows / macOS:         Docker Desktop  https://docs.docker.com/desktop/" >&2
        say "  설치 후 확인:            docker --version && docker compose version" >&2
        exit "$EXIT_USAGE"
    fi
    if ! docker compose version >/dev/null 2>&1; then
        error "Docker Compose v2 ('docker compose') 가 없습니다."
        say "  Debian/Ubuntu:  sudo apt-get install docker-compose-plugin" >&2
        say "  기타 Linux:     https://docs.docker.com/compose/install/linux/" >&2
        say "  Docker Desktop 에는 포함되어 있습니다. 옛 'docker-compose'(v1)는 지원하지 않습니다." >&2
        exit "$EXIT_USAGE"
    fi
    if ! docker info >/dev/null 2>&1; then
        error "Docker 데몬에 연결할 수 없습니다."
        say "  Linux:   sudo systemctl start docker" >&2
        say "           권한 문제라면: sudo usermod -aG docker <사용자명>  (다시 로그인 필요)" >&2
        say "  Windows / macOS: Docker Desktop 을 실행하고 'Engine running' 이 될 때까지 기다리세요." >&2
        exit "$EXIT_USAGE"
    fi
}

require_compose_file() {
    [ -f "$COMPOSE_FILE_NAME" ] ||
        die "$EXIT_USAGE" "$COMPOSE_FILE_NAME 이 없습니다 ($(pwd)). 저장소 전체를 받았는지 확인하세요."
}

require_env_file() {
    if [ ! -f "$ENV_FILE" ]; then
        error "$ENV_FILE 파일이 없습니다."
        say "예시 파일을 복사한 뒤 키를 채우세요:" >&2
        say "  cp $ENV_EXAMPLE $ENV_FILE" >&2
        exit "$EXIT_USAGE"
    fi
}

# --- .env.multi parsing (never sourced: it is data, not a script) ------------------------

ENV_KEYS=" "
LINE_KEY=""
LINE_REST=""

# parse_env_line LINE -> true for a KEY=VALUE line: LINE_KEY = the key, LINE_REST = all after
# the first `=`. Handles blank lines, comments, `export `, CRLF and a UTF-8 BOM.
parse_env_line() {
    local line=$1
    line=${line%$'\r'}
    line=${line#$'\xef\xbb\xbf'}
    line=${line#"${line%%[![:space:]]*}"}
    case $line in '' | '#'*) return 1 ;; esac
    line=${line#export }
    case $line in *=*) ;; *) return 1 ;; esac
    LINE_KEY=${line%%=*}
    LINE_KEY=${LINE_KEY%"${LINE_KEY##*[![:space:]]}"}
    case $LINE_KEY in '' | [0-9]* | *[!A-Za-z0-9_]*) return 1 ;; esac
    LINE_REST=${line#*=}
}

# Reads KEY=VALUE lines into variables ENVF_<KEY>. Handles comments, blank lines, `export `,
# CRLF, a UTF-8 BOM, quoted values and trailing ` # comments`. The last assignment wins.
load_env_file() {
    local line key value
    ENV_KEYS=" "
    while IFS= read -r line || [ -n "$line" ]; do
        parse_env_line "$line" || continue
        key=$LINE_KEY
        value=$LINE_REST
        value=${value#"${value%%[![:space:]]*}"}
        case $value in
            \"*) value=${value#\"} && value=${value%%\"*} ;;
            \'*) value=${value#\'} && value=${value%%\'*} ;;
            *)
                value=${value%%[[:space:]]#*}
                value=${value%"${value##*[![:space:]]}"}
                ;;
        esac
        printf -v "ENVF_$key" '%s' "$value"
        case $ENV_KEYS in *" $key "*) ;; *) ENV_KEYS="$ENV_KEYS$key " ;; esac
    done <"$ENV_FILE"
}

# env_get KEY -> REPLY = value from .env.multi (empty when absent); no subshell.
REPLY=""
env_get() {
    local var="ENVF_$1"
    REPLY=""
    case $ENV_KEYS in *" $1 "*) REPLY=${!var} ;; esac
}

# trim_spaces VALUE -> REPLY: VALUE without leading and trailing white space (CR included).
trim_spaces() {
    REPLY=${1#"${1%%[![:space:]]*}"}
    REPLY=${REPLY%"${REPLY##*[![:space:]]}"}
}

# load_placeholder_rule: PLACEHOLDER_GLOBS from bot/placeholders.txt (comments and blank
# lines skipped).
load_placeholder_rule() {
    local line
    [ -r "$PLACEHOLDER_FILE" ] ||
        die "$EXIT_USAGE" "$PLACEHOLDER_FILE 이 없습니다 ($(pwd)). 저장소 전체를 받았는지 확인하세요."
    while IFS= read -r line || [ -n "$line" ]; do
        trim_spaces "$line"
        case $REPLY in '' | '#'*) ;; *) PLACEHOLDER_GLOBS+=("$REPLY") ;; esac
    done <"$PLACEHOLDER_FILE"
}

# is_filled VALUE -> true when VALUE, trimmed, is neither empty nor a placeholder
# (bot/placeholders.txt: your-...-here, changeme, <...>, in any case)
is_filled() {
    local saved=$REPLY value glob placeholder=1
    trim_spaces "$1"
    value=$REPLY
    REPLY=$saved # callers keep their REPLY
    [ -n "$value" ] || return 1
    shopt -s nocasematch
    for glob in "${PLACEHOLDER_GLOBS[@]}"; do
        # shellcheck disable=SC2053 # the right side is a glob on purpose
        if [[ $value == $glob ]]; then
            placeholder=0
            break
        fi
    done
    shopt -u nocasematch
    [ "$placeholder" -eq 1 ]
}

# resolve_key PROVIDER N -> sets EFF_NAME / EFF_VALUE to the key instance N really uses:
# PROVIDER_N, else the unsuffixed PROVIDER, else nothing (EFF_NAME="").
EFF_NAME=""
EFF_VALUE=""
resolve_key() {
    local base=$1 n=$2
    env_get "${base}_$n"
    if is_filled "$REPLY"; then
        EFF_NAME="${base}_$n" EFF_VALUE=$REPLY
        return 0
    fi
    env_get "$base"
    if is_filled "$REPLY"; then
        EFF_NAME=$base EFF_VALUE=$REPLY
        return 0
    fi
    EFF_NAME="" EFF_VALUE=""
    return 1
}

# Provider keys each instance needs to do its own job (the rest is optional backup).
needs_of() {
    case $1 in
        1) printf '%s' "OPENAI_API_KEY" ;;
        2) printf '%s' "MINIMAX_API_KEY STABILITY_API_KEY" ;;
        3) printf '%s' "MINIMAX_API_KEY" ;;
        4) printf '%s' "OPENAI_API_KEY MINIMAX_API_KEY STABILITY_API_KEY" ;;
    esac
}

role_of() {
    case $1 in
        1) printf '%s' "1번 인스턴스(채팅)" ;;
        2) printf '%s' "2번 인스턴스(이미지)" ;;
        3) printf '%s' "3번 인스턴스(비디오)" ;;
        4) printf '%s' "4번 인스턴스(관리/백업)" ;;
    esac
}

check_keys() {
    local n base missing="" optional="" lines=""
    load_env_file

    env_get DISCORD_TOKEN
    if ! is_filled "$REPLY"; then
        missing="$missing DISCORD_TOKEN"
        lines="$lines  - DISCORD_TOKEN  (디스코드 봇 토큰, 4개 인스턴스 공용)"$'\n'
    fi
    for n in $INSTANCES; do
        for base in $PROVIDERS; do
            case " $(needs_of "$n") " in
                *" $base "*)
                    if ! resolve_key "$base" "$n"; then
                        missing="$missing ${base}_$n"
                        lines="$lines  - ${base}_$n  ($(role_of "$n") 필수; 공용 키 $base 로 대신할 수도 있음)"$'\n'
                    fi
                    ;;
                *) resolve_key "$base" "$n" || optional="$optional ${base}_$n" ;;
            esac
        done
    done

    if [ -n "$missing" ]; then
        error "$ENV_FILE 의 필수 키가 비어 있거나 예시 값(your-...-here, changeme, <...>) 그대로입니다:"
        printf '%s' "$lines" >&2
        say "$ENV_FILE 를 열어 위 키에 실제 값을 넣은 뒤 다시 실행하세요." >&2
        exit "$EXIT_USAGE"
    fi
    ok "$ENV_FILE: 필수 키가 모두 채워져 있습니다."
    if [ -n "$optional" ]; then
        say "    참고: 선택 키가 비어 있습니다:${optional}"
        say "    (해당 인스턴스는 다른 인스턴스가 죽었을 때 그 기능을 대신하지 못합니다.)"
    fi
    check_key_reuse
}

# Same provider key used by two instances -> warning (rate limits are per key), not an error.
check_key_reuse() {
    local base i j name_i value_i reused=""
    for base in $PROVIDERS; do
        for i in $INSTANCES; do
            resolve_key "$base" "$i" || continue
            name_i=$EFF_NAME value_i=$EFF_VALUE
            for j in $INSTANCES; do
                [ "$j" -gt "$i" ] || continue
                resolve_key "$base" "$j" || continue
                [ "$EFF_VALUE" = "$value_i" ] || continue
                reused=1
                if [ "$name_i" = "$EFF_NAME" ]; then
                    warn "${i}번과 ${j}번 인스턴스가 같은 키($name_i)를 씁니다."
                else
                    warn "$name_i 와 $EFF_NAME 의 값이 같습니다 (${i}번, ${j}번 인스턴스가 같은 키를 씀)."
                fi
            done
        done
    done
    if [ -n "$reused" ]; then
        warn "공급자 요청 한도(rate limit)는 키마다 걸립니다. 인스턴스마다 다른 키를 쓰는 것을 권장합니다. 계속 진행합니다."
    fi
    return 0
}

warn_env_permissions() {
    if [ -n "$(find "$ENV_FILE" -maxdepth 0 -perm -004 2>/dev/null)" ]; then
        warn "$ENV_FILE 를 다른 사용자도 읽을 수 있습니다. 권장: chmod 600 $ENV_FILE"
    fi
    return 0
}

# --- passwords in .env.multi: REDIS_PASSWORD, GRAFANA_ADMIN_PASSWORD ----------------------
# Redis holds interaction tokens of long jobs, so the compose redis requires REDIS_PASSWORD
# (docker-compose.multi.yml); Grafana (monitoring) needs an admin password. Both live in
# .env.multi only; this script creates each there once, when needed, and never prints it.

# random_hex -> 64 hex digits (32 random bytes) on stdout: `openssl rand` when it works, else
# od on /dev/urandom (both exist on a plain Linux and macOS). Fails when neither does.
random_hex() {
    local value=""
    if command -v openssl >/dev/null 2>&1; then
        value=$(openssl rand -hex 32 2>/dev/null) || value=""
    fi
    if ! [[ $value =~ ^[0-9a-f]{64}$ ]]; then
        value=$(od -An -v -tx1 -N32 /dev/urandom 2>/dev/null) || value=""
        value=${value//[[:space:]]/}
    fi
    [[ $value =~ ^[0-9a-f]{64}$ ]] || return 1
    printf '%s' "$value"
}

# write_env_value KEY VALUE COMMENT: the last KEY=... line of .env.multi (the one that
# counts) gets VALUE after its `=`; without such a line, COMMENT and KEY=VALUE are appended.
# Every other byte stays as it was, and so do the file's mode and owner: it is written in
# place, never replaced by a new file.
write_env_value() {
    local key=$1 value=$2 comment=$3 line cr="" content="" i n found=-1 terminated=1
    local -a lines
    lines=()
    while :; do
        if IFS= read -r line; then
            lines+=("$line")
        else
            if [ -n "$line" ]; then
                lines+=("$line")
                terminated=0
            fi
            break
        fi
    done <"$ENV_FILE"
    n=${#lines[@]}
    for ((i = 0; i < n; i++)); do
        if parse_env_line "${lines[i]}" && [ "$LINE_KEY" = "$key" ]; then
            found=$i
        fi
    done
    if [ "$n" -gt 0 ]; then
        case ${lines[0]} in *$'\r') cr=$'\r' ;; esac
    fi
    if [ "$found" -lt 0 ]; then
        {
            [ "$terminated" = 1 ] || printf '\n'
            printf '%s\n' "$comment$cr"
            printf '%s\n' "$key=$value$cr"
        } >>"$ENV_FILE"
        return 0
    fi
    for ((i = 0; i < n; i++)); do
        line=${lines[i]}
        if [ "$i" -eq "$found" ]; then
            cr=""
            case $line in *$'\r') cr=$'\r' ;; esac
            line="${line%%"$key"*}$key=$value$cr"
        fi
        content+=$line
        if [ "$i" -lt $((n - 1)) ] || [ "$terminated" = 1 ]; then
            content+=$'\n'
        fi
    done
    printf '%s' "$content" >"$ENV_FILE"
}

# check_password KEY VALUE WHY MAKER: a password set by hand. WHY says where it goes, MAKER
# is the command that makes one when the value is emptied.
check_password() {
    local key=$1 value=$2 why=$3 maker=$4
    if ! [[ $value =~ $PASSWORD_RE ]]; then
        error "$ENV_FILE 의 $key 에는 영문자, 숫자와 . _ ~ - 만 쓸 수 있습니다 ($why)."
        say "값을 고치거나, 값을 비워 두면 $maker 가 새로 만듭니다." >&2
        exit "$EXIT_USAGE"
    fi
    if [ "${#value}" -lt "$PASSWORD_MIN_LENGTH" ]; then
        warn "$ENV_FILE 의 $key 가 ${PASSWORD_MIN_LENGTH}자보다 짧습니다. 길고 무작위인 값을 권장합니다 (비워 두면 $maker 가 만듭니다)."
    fi
    return 0
}

# generate_password KEY COMMENT: writes a new random KEY into .env.multi (see write_env_value)
# and checks it is what the file now says. The value is never printed.
generate_password() {
    local key=$1 comment=$2 generated
    if [ ! -w "$ENV_FILE" ]; then
        error "$ENV_FILE 에 쓸 수 없어 $key 를 만들지 못했습니다."
        say "파일 권한을 고치거나, 직접 $key=<긴 무작위 값> 줄을 넣으세요 (예: openssl rand -hex 32 의 출력)." >&2
        exit "$EXIT_USAGE"
    fi
    generated=$(random_hex) ||
        die "$EXIT_RUNTIME" "무작위 값을 만들지 못했습니다 (openssl 도 /dev/urandom 도 쓸 수 없음). $ENV_FILE 에 $key=<긴 무작위 값> 을 직접 넣으세요."
    write_env_value "$key" "$generated" "$comment"
    load_env_file
    env_get "$key"
    [ "$REPLY" = "$generated" ] ||
        die "$EXIT_RUNTIME" "$ENV_FILE 에 $key 를 적지 못했습니다. 파일을 확인하세요."
    ok "$ENV_FILE: $key 가 없어서 새로 만들어 적었습니다 (값은 출력하지 않습니다)."
}

# ensure_redis_password generate|require: .env.multi must hold a usable REDIS_PASSWORD.
#   generate (start, restart): a missing, empty or placeholder one is created and written.
#   require (update): refuse instead. A rolling update cannot change the password: the bots
#   not replaced yet would lose Redis until their turn.
ensure_redis_password() {
    local mode=$1
    load_env_file
    env_get REDIS_PASSWORD
    if is_filled "$REPLY"; then
        check_password REDIS_PASSWORD "$REPLY" "REDIS_URL 안에 그대로 들어갑니다" start
        return 0
    fi
    if [ "$mode" != generate ]; then
        error "$ENV_FILE 에 REDIS_PASSWORD 가 없습니다 (또는 비어 있거나 예시 값입니다)."
        say "무중단 update 는 Redis 비밀번호를 새로 정하지 않습니다: 아직 교체되지 않은 인스턴스가 Redis 에 접속하지 못하게 됩니다." >&2
        say "한 번 '$PROG restart' 를 실행하세요. 비밀번호를 만들어 $ENV_FILE 에 적고 모두 다시 시작합니다." >&2
        exit "$EXIT_USAGE"
    fi
    generate_password REDIS_PASSWORD "$REDIS_PASSWORD_COMMENT"
}

# ensure_grafana_password: .env.multi must hold a usable GRAFANA_ADMIN_PASSWORD before Grafana
# starts (monitoring start): a missing, empty or placeholder one is created and written.
ensure_grafana_password() {
    load_env_file
    env_get GRAFANA_ADMIN_PASSWORD
    if is_filled "$REPLY"; then
        check_password GRAFANA_ADMIN_PASSWORD "$REPLY" "$ENV_FILE 를 읽는 Compose 가 그대로 넘깁니다" "monitoring start"
        return 0
    fi
    generate_password GRAFANA_ADMIN_PASSWORD "$GRAFANA_PASSWORD_COMMENT"
}

# A REDIS_URL in .env.multi naming the compose redis without the password cannot log in.
check_redis_url() {
    env_get REDIS_URL
    case $REPLY in
        redis://redis | redis://redis:* | redis://redis/*)
            error "$ENV_FILE 의 REDIS_URL 이 compose 의 redis 를 비밀번호 없이 가리킵니다."
            say "그 줄을 지우거나 주석(#)으로 만드세요. 그러면 비밀번호가 든 주소를 compose 가 넣습니다." >&2
            exit "$EXIT_USAGE"
            ;;
    esac
    return 0
}

# stop, status and logs create no container, but Compose reads the whole file and refuses an
# empty REDIS_PASSWORD, which .env.multi lacks until the first start: give them a stand-in.
stand_in_redis_password() {
    load_env_file
    env_get REDIS_PASSWORD
    if [ -z "$REPLY" ]; then
        REDIS_PASSWORD=$REDIS_PASSWORD_STAND_IN
        export REDIS_PASSWORD
    fi
    return 0
}

# --- preparation -------------------------------------------------------------------------

# The image runs as the operator's UID/GID so ./logs/bot-N stay writable (root -> 1000).
set_app_ids() {
    if [ -z "${APP_UID:-}" ]; then
        APP_UID=$(id -u)
        [ "$APP_UID" != "0" ] || APP_UID=1000
    fi
    if [ -z "${APP_GID:-}" ]; then
        APP_GID=$(id -g)
        [ "$APP_GID" != "0" ] || APP_GID=1000
    fi
    export APP_UID APP_GID
}

ensure_log_dirs() {
    local n
    for n in $INSTANCES; do
        mkdir -p "logs/bot-$n"
        if [ "$(id -u)" = "0" ]; then
            chown "$APP_UID:$APP_GID" "logs/bot-$n" 2>/dev/null || true
        fi
    done
}

validate_config_in_image() {
    local n rc failed=""
    info "이미지 안에서 설정 검증: python -m bot check-config (인스턴스 1-4)"
    for n in $INSTANCES; do
        rc=0
        compose run --rm --no-deps -T -e "INSTANCE_ID=$n" "bot-$n" \
            python -m bot check-config --instance "$n" || rc=$?
        case $rc in
            0) ok "bot-$n: 설정 OK" ;;
            2) failed="$failed bot-$n" ;;
            *) die "$EXIT_RUNTIME" "bot-$n 설정 검증 컨테이너를 실행하지 못했습니다 (종료 코드 $rc)." ;;
        esac
    done
    if [ -n "$failed" ]; then
        error "설정 검증 실패:${failed}. 위 보고서를 보고 $ENV_FILE 를 고친 뒤 다시 실행하세요."
        exit "$EXIT_USAGE"
    fi
}

# Everything start / restart / update do before touching running containers.
# $1: what to do without a REDIS_PASSWORD (generate or require, see ensure_redis_password).
prepare() {
    require_docker
    require_env_file
    check_keys
    ensure_redis_password "$1"
    check_redis_url
    warn_env_permissions
    set_app_ids
    ensure_log_dirs
    info "이미지 빌드"
    compose build || die "$EXIT_RUNTIME" "이미지 빌드에 실패했습니다. 위 출력을 확인하세요."
    validate_config_in_image
}

# --- health ------------------------------------------------------------------------------

LAST_HEALTH=""

# wait_healthy SERVICE -> 0 once the container's health is "healthy", 1 after HEALTH_TIMEOUT.
wait_healthy() {
    local svc=$1 cid="" started=$SECONDS
    LAST_HEALTH=""
    info "$svc: healthy 가 될 때까지 기다립니다 (최대 ${HEALTH_TIMEOUT}초)"
    while :; do
        if [ -z "$cid" ]; then
            cid=$(compose ps -q "$svc" 2>/dev/null || true)
            cid=${cid%%$'\n'*}
        fi
        if [ -n "$cid" ]; then
            LAST_HEALTH=$(docker inspect --format '{{.State.Health.Status}}' "$cid" 2>/dev/null || true)
            if [ "$LAST_HEALTH" = "healthy" ]; then
                ok "$svc: healthy"
                return 0
            fi
        fi
        if [ $((SECONDS - started)) -ge "$HEALTH_TIMEOUT" ]; then
            error "$svc 가 ${HEALTH_TIMEOUT}초 안에 healthy 가 되지 않았습니다 (마지막 상태: ${LAST_HEALTH:-컨테이너 없음})."
            return 1
        fi
        sleep "$HEALTH_POLL_INTERVAL"
    done
}

# --- sub-commands ------------------------------------------------------------------------

show_status() {
    info "컨테이너 상태"
    compose ps --all || die "$EXIT_RUNTIME" "컨테이너 상태를 읽지 못했습니다."
    say ""
    info "플릿 요약 (bot-4 가 Redis 에서 읽음)"
    if ! compose exec -T bot-4 python -m bot status; then
        warn "플릿 요약을 가져오지 못했습니다: bot-4 가 실행 중이 아니거나 아직 준비 중입니다."
        warn "위 컨테이너 상태를 보고, 필요하면: $PROG logs 4"
    fi
    return 0
}

launch() {
    local wait=$1 n failed=""
    info "시작: Redis + bot-1..bot-4"
    compose up -d --build --remove-orphans || die "$EXIT_RUNTIME" "컨테이너를 시작하지 못했습니다."
    if [ "$wait" = "1" ]; then
        for n in $INSTANCES; do
            wait_healthy "bot-$n" || failed="$failed $n"
        done
    fi
    say ""
    show_status
    if [ -n "$failed" ]; then
        error "healthy 가 되지 못한 인스턴스:${failed}. 로그를 확인하세요: $PROG logs <번호>"
        say "흔한 원인: 잘못된 DISCORD_TOKEN, 공급자 키 오류, Redis 문제 (README_MULTI.md 의 '자주 생기는 문제')." >&2
        exit "$EXIT_RUNTIME"
    fi
    ok "시작 완료."
}

# Options of start/restart; sets WAIT_FOR_HEALTH (1 unless --no-wait).
parse_wait_option() {
    local sub=$1
    shift
    WAIT_FOR_HEALTH=1
    while [ $# -gt 0 ]; do
        case $1 in
            --no-wait) WAIT_FOR_HEALTH=0 ;;
            *) usage_error "$sub: 알 수 없는 옵션 '$1'" ;;
        esac
        shift
    done
}

cmd_start() {
    parse_wait_option start "$@"
    prepare generate
    launch "$WAIT_FOR_HEALTH"
}

cmd_stop() {
    [ $# -eq 0 ] || usage_error "stop 은 인자를 받지 않습니다."
    require_docker
    require_env_file
    stand_in_redis_password
    # With the profile, down takes Prometheus and Grafana too (when running), and with them
    # gone the project network can be removed as well.
    COMPOSE_PROFILE=$MONITORING_PROFILE
    info "중지: 모든 컨테이너, 모니터링 포함 (Redis, Prometheus, Grafana 데이터 볼륨은 유지)"
    compose down --remove-orphans || die "$EXIT_RUNTIME" "중지에 실패했습니다."
    ok "중지 완료."
}

cmd_restart() {
    parse_wait_option restart "$@"
    prepare generate
    info "중지 (Redis 데이터 볼륨은 유지)"
    compose down --remove-orphans || die "$EXIT_RUNTIME" "중지에 실패했습니다."
    launch "$WAIT_FOR_HEALTH"
}

cmd_status() {
    [ $# -eq 0 ] || usage_error "status 는 인자를 받지 않습니다."
    require_docker
    require_env_file
    stand_in_redis_password
    show_status
}

cmd_logs() {
    local follow=0 target="" tail=$LOG_TAIL
    while [ $# -gt 0 ]; do
        case $1 in
            -f | --follow) follow=1 ;;
            --tail)
                [ $# -ge 2 ] || usage_error "logs: --tail 다음에 줄 수를 주세요."
                shift
                tail=$1
                ;;
            --tail=*) tail=${1#--tail=} ;;
            all) target="" ;;
            1 | 2 | 3 | 4) target="bot-$1" ;;
            bot-1 | bot-2 | bot-3 | bot-4 | redis) target=$1 ;;
            prometheus | grafana)
                target=$1
                COMPOSE_PROFILE=$MONITORING_PROFILE
                ;;
            *) usage_error "logs: 알 수 없는 인자 '$1' (인스턴스 번호 1-4, redis, prometheus, grafana, all, -f, --tail N)" ;;
        esac
        shift
    done
    case $tail in '' | *[!0-9]*) usage_error "logs: --tail 은 숫자여야 합니다 ('$tail')." ;; esac
    require_docker
    require_env_file
    stand_in_redis_password
    local args=(logs --tail "$tail")
    [ "$follow" = "0" ] || args+=(-f)
    [ -z "$target" ] || args+=("$target")
    compose "${args[@]}"
}

cmd_update() {
    [ $# -eq 0 ] || usage_error "update 는 인자를 받지 않습니다."
    local n m rest
    prepare require
    info "Redis 이미지 갱신"
    compose pull redis || warn "Redis 이미지를 받지 못했습니다. 지금 이미지로 계속합니다."
    compose up -d redis || die "$EXIT_RUNTIME" "Redis 를 시작하지 못했습니다."
    wait_healthy redis || die "$EXIT_RUNTIME" "Redis 가 healthy 가 아니어서 업데이트를 멈춥니다. $PROG logs redis 를 확인하세요."
    for n in $INSTANCES; do
        info "[$n/4] bot-$n 교체 (나머지 인스턴스는 계속 응답합니다)"
        compose up -d --no-deps "bot-$n" || die "$EXIT_RUNTIME" "bot-$n 을 시작하지 못했습니다. 업데이트를 멈춥니다."
        if ! wait_healthy "bot-$n"; then
            rest=""
            for m in $INSTANCES; do [ "$m" -le "$n" ] || rest="$rest bot-$m"; done
            error "업데이트를 bot-$n 에서 멈췄습니다.${rest:+ 아직 교체하지 않은${rest} 는 이전 버전으로 계속 동작합니다.}"
            say "로그 확인: $PROG logs $n    상태: $PROG status" >&2
            exit "$EXIT_RUNTIME"
        fi
    done
    say ""
    show_status
    ok "업데이트 완료."
}

# --- monitoring (compose profile "monitoring": prometheus + grafana) ----------------------

show_monitoring() {
    info "모니터링 컨테이너"
    # shellcheck disable=SC2086 # word splitting of the service list is intended
    compose ps --all $MONITORING_SERVICES || die "$EXIT_RUNTIME" "컨테이너 상태를 읽지 못했습니다."
    say ""
    info "수집 대상 (1 = Prometheus 가 그 봇의 /metrics 를 읽음, 0 = 못 읽음)"
    if ! compose exec -T prometheus promtool query instant http://localhost:9090 'up{job="mib-bots"}'; then
        warn "수집 상태를 가져오지 못했습니다: Prometheus 가 실행 중이 아니거나 아직 준비 중입니다."
        warn "필요하면: $PROG logs prometheus"
    fi
    say ""
    say "Grafana:  $GRAFANA_URL  (이 컴퓨터에서만 열립니다)"
    say "  로그인: admin / 비밀번호는 $ENV_FILE 의 GRAFANA_ADMIN_PASSWORD"
    say "          (보기: grep '^GRAFANA_ADMIN_PASSWORD=' $ENV_FILE)"
    say "  원격 서버라면 내 PC 에서: ssh -L 3000:localhost:3000 <사용자>@<서버>  그다음 $GRAFANA_URL"
    return 0
}

cmd_monitoring() {
    local action=${1:-}
    [ $# -eq 0 ] || shift
    case $action in
        start | stop | status) ;;
        '') usage_error "monitoring: start, stop, status 중 하나를 주세요." ;;
        *) usage_error "monitoring: 알 수 없는 동작 '$action' (start, stop, status)" ;;
    esac
    [ $# -eq 0 ] || usage_error "monitoring $action 은 다른 인자를 받지 않습니다."
    require_docker
    require_env_file
    # Compose reads the whole file: the redis password must not be empty even here.
    stand_in_redis_password
    COMPOSE_PROFILE=$MONITORING_PROFILE
    case $action in
        start)
            ensure_grafana_password
            info "시작: Prometheus + Grafana (봇은 그대로)"
            # shellcheck disable=SC2086 # word splitting of the service list is intended
            compose up -d $MONITORING_SERVICES || die "$EXIT_RUNTIME" "모니터링 컨테이너를 시작하지 못했습니다."
            if ! wait_healthy grafana; then
                error "Grafana 가 준비되지 않았습니다. 로그를 확인하세요: $PROG logs grafana"
                exit "$EXIT_RUNTIME"
            fi
            say ""
            show_monitoring
            ok "모니터링 시작 완료."
            ;;
        stop)
            info "중지: Prometheus + Grafana (수집한 데이터와 Grafana 설정 볼륨은 유지, 봇은 그대로)"
            # shellcheck disable=SC2086 # word splitting of the service list is intended
            compose rm --stop --force $MONITORING_SERVICES || die "$EXIT_RUNTIME" "모니터링 중지에 실패했습니다."
            ok "모니터링 중지 완료."
            ;;
        status) show_monitoring ;;
    esac
}

usage_error() {
    error "$*"
    usage >&2
    exit "$EXIT_USAGE"
}

check_tunables() {
    case $HEALTH_TIMEOUT in '' | *[!0-9]*) usage_error "HEALTH_TIMEOUT 은 초 단위 정수여야 합니다." ;; esac
    case $HEALTH_POLL_INTERVAL in '' | *[!0-9.]*) usage_error "HEALTH_POLL_INTERVAL 은 초 단위 숫자여야 합니다." ;; esac
    case $LOG_TAIL in '' | *[!0-9]*) usage_error "LOG_TAIL 은 정수여야 합니다." ;; esac
}

main() {
    local script_dir=${BASH_SOURCE[0]%/*}
    [ "$script_dir" != "${BASH_SOURCE[0]}" ] || script_dir=.
    cd "$script_dir"

    local sub=${1:-}
    [ $# -eq 0 ] || shift
    case $sub in
        help | -h | --help)
            usage
            exit 0
            ;;
        '') usage_error "명령을 지정하세요." ;;
        start | stop | restart | status | logs | update | monitoring) ;;
        *) usage_error "알 수 없는 명령: '$sub'" ;;
    esac

    check_tunables
    require_compose_file
    load_placeholder_rule
    # Compose takes REDIS_PASSWORD, REDIS_URL and GRAFANA_ADMIN_PASSWORD from .env.multi
    # (--env-file) only: a shell variable of the same name would win over the file (say, a
    # REDIS_URL exported for dev.py).
    if [ -n "${REDIS_PASSWORD:-}" ]; then
        warn "환경 변수 REDIS_PASSWORD 는 쓰지 않습니다. $ENV_FILE 의 값을 씁니다."
    fi
    if [ -n "${GRAFANA_ADMIN_PASSWORD:-}" ]; then
        warn "환경 변수 GRAFANA_ADMIN_PASSWORD 는 쓰지 않습니다. $ENV_FILE 의 값을 씁니다."
    fi
    unset REDIS_PASSWORD REDIS_URL GRAFANA_ADMIN_PASSWORD
    PROJECT_NAME=$(read_project_name)
    readonly PROJECT_NAME

    case $sub in
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        restart) cmd_restart "$@" ;;
        status) cmd_status "$@" ;;
        logs) cmd_logs "$@" ;;
        update) cmd_update "$@" ;;
        monitoring) cmd_monitoring "$@" ;;
    esac
}

main "$@"
