@echo off
rem ==========================================================================
rem deploy-multi.bat - multi-instance Discord bot deployment (Windows cmd,
rem Docker Desktop). Same sub-commands and checks as deploy-multi.sh.
rem
rem   deploy-multi.bat start      check config, build, start Redis + bot-1..bot-4
rem   deploy-multi.bat status     container state and health + fleet summary
rem   deploy-multi.bat update     rolling update, one instance at a time
rem   deploy-multi.bat monitoring start, stop or status: Prometheus + Grafana
rem   deploy-multi.bat help       full usage
rem
rem Always runs: docker compose -p NAME -f docker-compose.multi.yml ...
rem from the folder this file lives in. Exit codes: 0 ok, 1 runtime failure,
rem 2 usage or preflight failure. Secret values are never printed, only key
rem names. This file must keep CRLF line endings and ASCII text.
rem ==========================================================================
setlocal EnableExtensions DisableDelayedExpansion
cd /d "%~dp0"

set "COMPOSE_FILE_NAME=docker-compose.multi.yml"
set "ENV_FILE=.env.multi"
set "ENV_EXAMPLE=.env.multi.example"
set "PROG=deploy-multi.bat"
if not defined HEALTH_TIMEOUT set "HEALTH_TIMEOUT=300"
if not defined HEALTH_POLL_INTERVAL set "HEALTH_POLL_INTERVAL=3"
if not defined LOG_TAIL set "LOG_TAIL=200"

set "SUB=%~1"
if "%SUB%"=="" goto :no_command
if /i "%SUB%"=="help" goto :cmd_help
if /i "%SUB%"=="-h" goto :cmd_help
if /i "%SUB%"=="--help" goto :cmd_help
if /i "%SUB%"=="/?" goto :cmd_help

call :check_tunables
if errorlevel 1 exit /b %errorlevel%
if not exist "%COMPOSE_FILE_NAME%" goto :no_compose_file
rem Compose takes REDIS_PASSWORD, REDIS_URL and GRAFANA_ADMIN_PASSWORD from .env.multi
rem (--env-file) only: a variable of the same name in this window would win over the file.
if defined REDIS_PASSWORD >&2 echo [WARN] The REDIS_PASSWORD environment variable is ignored: %ENV_FILE% is used.
if defined GRAFANA_ADMIN_PASSWORD >&2 echo [WARN] The GRAFANA_ADMIN_PASSWORD environment variable is ignored: %ENV_FILE% is used.
set "REDIS_PASSWORD="
set "REDIS_URL="
set "GRAFANA_ADMIN_PASSWORD="
rem The project name is the top-level "name:" of the compose file.
set "PROJECT_NAME="
for /f "usebackq tokens=1,* delims=: " %%A in ("%COMPOSE_FILE_NAME%") do (
    if "%%A"=="name" if not defined PROJECT_NAME set "PROJECT_NAME=%%B"
)
if not defined PROJECT_NAME set "PROJECT_NAME=discord-multi-bot"
rem --env-file: Compose fills in REDIS_PASSWORD, REDIS_URL and GRAFANA_ADMIN_PASSWORD from
rem .env.multi. Without --profile monitoring, Compose sees Redis and the bots only.
set "COMPOSE=docker compose -p %PROJECT_NAME% -f %COMPOSE_FILE_NAME% --env-file %ENV_FILE%"

if /i "%SUB%"=="start" goto :cmd_start
if /i "%SUB%"=="stop" goto :cmd_stop
if /i "%SUB%"=="restart" goto :cmd_restart
if /i "%SUB%"=="status" goto :cmd_status
if /i "%SUB%"=="logs" goto :cmd_logs
if /i "%SUB%"=="update" goto :cmd_update
if /i "%SUB%"=="monitoring" goto :cmd_monitoring
>&2 echo [ERROR] Unknown command: %SUB%
call :usage 1>&2
exit /b 2

:no_compose_file
>&2 echo [ERROR] %COMPOSE_FILE_NAME% not found next to %PROG%. Get the whole repository.
exit /b 2

:no_command
>&2 echo [ERROR] Give a command.
call :usage 1>&2
exit /b 2

:bad_args
>&2 echo [ERROR] Unexpected argument for %SUB%: %~2
call :usage 1>&2
exit /b 2

rem ==========================================================================
rem Sub-commands
rem ==========================================================================

:cmd_help
call :usage
exit /b 0

:cmd_start
set "WAIT=1"
if /i "%~2"=="--no-wait" (set "WAIT=0") else if not "%~2"=="" goto :bad_args
call :prepare generate
if errorlevel 1 exit /b %errorlevel%
call :launch
exit /b %errorlevel%

:cmd_stop
if not "%~2"=="" goto :bad_args
call :require_docker
if errorlevel 1 exit /b %errorlevel%
call :require_env_file
if errorlevel 1 exit /b %errorlevel%
call :stand_in_redis_password
rem With the profile, down takes Prometheus and Grafana too, and then the network.
echo [INFO] Stopping all containers, monitoring too. The data volumes are kept.
%COMPOSE% --profile monitoring down --remove-orphans
if errorlevel 1 (
    >&2 echo [ERROR] Stop failed. See the output above.
    exit /b 1
)
echo [OK] Stopped.
exit /b 0

:cmd_restart
set "WAIT=1"
if /i "%~2"=="--no-wait" (set "WAIT=0") else if not "%~2"=="" goto :bad_args
call :prepare generate
if errorlevel 1 exit /b %errorlevel%
echo [INFO] Stopping. The Redis data volume is kept.
%COMPOSE% down --remove-orphans
if errorlevel 1 (
    >&2 echo [ERROR] Stop failed. See the output above.
    exit /b 1
)
call :launch
exit /b %errorlevel%

:cmd_status
if not "%~2"=="" goto :bad_args
call :require_docker
if errorlevel 1 exit /b %errorlevel%
call :require_env_file
if errorlevel 1 exit /b %errorlevel%
call :stand_in_redis_password
call :show_status
exit /b %errorlevel%

:cmd_logs
set "FOLLOW="
set "TARGET="
set "MONITORING="
set "TAIL=%LOG_TAIL%"
:logs_next
shift
if "%~1"=="" goto :logs_run
if /i "%~1"=="-f" (set "FOLLOW=-f" & goto :logs_next)
if /i "%~1"=="--follow" (set "FOLLOW=-f" & goto :logs_next)
if /i "%~1"=="--tail" (set "TAIL=%~2" & shift & goto :logs_next)
if /i "%~1"=="all" (set "TARGET=" & goto :logs_next)
if "%~1"=="1" (set "TARGET=bot-1" & goto :logs_next)
if "%~1"=="2" (set "TARGET=bot-2" & goto :logs_next)
if "%~1"=="3" (set "TARGET=bot-3" & goto :logs_next)
if "%~1"=="4" (set "TARGET=bot-4" & goto :logs_next)
if /i "%~1"=="bot-1" (set "TARGET=bot-1" & goto :logs_next)
if /i "%~1"=="bot-2" (set "TARGET=bot-2" & goto :logs_next)
if /i "%~1"=="bot-3" (set "TARGET=bot-3" & goto :logs_next)
if /i "%~1"=="bot-4" (set "TARGET=bot-4" & goto :logs_next)
if /i "%~1"=="redis" (set "TARGET=redis" & goto :logs_next)
if /i "%~1"=="prometheus" (set "TARGET=prometheus" & set "MONITORING=1" & goto :logs_next)
if /i "%~1"=="grafana" (set "TARGET=grafana" & set "MONITORING=1" & goto :logs_next)
>&2 echo [ERROR] logs: unknown argument %~1. Use an instance number 1-4, redis, prometheus, grafana, all, -f or --tail N.
call :usage 1>&2
exit /b 2
:logs_run
call :is_number "%TAIL%"
if errorlevel 1 (
    >&2 echo [ERROR] logs: --tail needs a number.
    exit /b 2
)
call :require_docker
if errorlevel 1 exit /b %errorlevel%
call :require_env_file
if errorlevel 1 exit /b %errorlevel%
call :stand_in_redis_password
if defined MONITORING set "COMPOSE=%COMPOSE% --profile monitoring"
%COMPOSE% logs --tail %TAIL% %FOLLOW% %TARGET%
exit /b %errorlevel%

:cmd_update
if not "%~2"=="" goto :bad_args
call :prepare require
if errorlevel 1 exit /b %errorlevel%
echo [INFO] Updating the Redis image
%COMPOSE% pull redis
if errorlevel 1 >&2 echo [WARN] Could not pull the Redis image. Continuing with the current one.
%COMPOSE% up -d redis
if errorlevel 1 (
    >&2 echo [ERROR] Could not start Redis.
    exit /b 1
)
call :wait_healthy redis
if errorlevel 1 (
    >&2 echo [ERROR] Redis is not healthy: update stopped. Check: %PROG% logs redis
    exit /b 1
)
set "UPDATE_FAILED="
for %%i in (1 2 3 4) do if not defined UPDATE_FAILED call :update_one %%i
if defined UPDATE_FAILED exit /b 1
echo.
call :show_status
echo [OK] Update complete.
exit /b 0

:cmd_monitoring
rem monitoring start, stop or status: Prometheus + Grafana, the compose profile
rem "monitoring". Every compose call from here on enables the profile.
set "ACTION=%~2"
if not "%~3"=="" goto :monitoring_usage
if /i "%ACTION%"=="start" goto :monitoring_go
if /i "%ACTION%"=="stop" goto :monitoring_go
if /i "%ACTION%"=="status" goto :monitoring_go
:monitoring_usage
>&2 echo [ERROR] Use: %PROG% monitoring start, %PROG% monitoring stop or %PROG% monitoring status
call :usage 1>&2
exit /b 2
:monitoring_go
call :require_docker
if errorlevel 1 exit /b %errorlevel%
call :require_env_file
if errorlevel 1 exit /b %errorlevel%
rem Compose reads the whole file: the Redis password must not be empty even here.
call :stand_in_redis_password
set "COMPOSE=%COMPOSE% --profile monitoring"
if /i "%ACTION%"=="stop" goto :monitoring_stop
if /i "%ACTION%"=="status" goto :monitoring_status
call :ensure_grafana_password
if errorlevel 1 exit /b %errorlevel%
echo [INFO] Starting Prometheus + Grafana. The bots are not touched.
%COMPOSE% up -d prometheus grafana
if errorlevel 1 (
    >&2 echo [ERROR] Could not start the monitoring containers.
    exit /b 1
)
call :wait_healthy grafana
if errorlevel 1 (
    >&2 echo [ERROR] Grafana is not ready. Read its logs: %PROG% logs grafana
    exit /b 1
)
echo.
call :show_monitoring
echo [OK] Monitoring started.
exit /b 0

:monitoring_stop
echo [INFO] Stopping Prometheus + Grafana. Their data volumes are kept, the bots are not touched.
%COMPOSE% rm --stop --force prometheus grafana
if errorlevel 1 (
    >&2 echo [ERROR] Could not stop the monitoring containers.
    exit /b 1
)
echo [OK] Monitoring stopped.
exit /b 0

:monitoring_status
call :show_monitoring
exit /b %errorlevel%

rem ==========================================================================
rem Building blocks
rem ==========================================================================

:usage
echo Usage: %PROG% COMMAND [options]
echo.
echo Commands:
echo   start [--no-wait]   Check the settings, build the image, start Redis and bot-1..bot-4,
echo                       wait until all four are healthy, then show the status.
echo                       Writes a new REDIS_PASSWORD into %ENV_FILE% when it has none.
echo   stop                Stop and remove all containers, monitoring too. Data volumes are kept.
echo   restart             Check the settings, then stop + start. Applies .env.multi changes.
echo                       Like start, writes a REDIS_PASSWORD when there is none.
echo   status              Container state and health, then the fleet summary from bot-4.
echo   logs [N] [-f] [--tail LINES]
echo                       Show logs. N = instance number 1-4, redis, prometheus, grafana
echo                       or all: the bots and Redis, the default.
echo                       -f keeps following; stop with Ctrl+C.
echo   update              Rolling update: check, build, refresh Redis, then replace
echo                       bot-1..bot-4 one at a time, each must become healthy first.
echo                       Stops when there is no REDIS_PASSWORD yet: run restart once.
echo   monitoring start, monitoring stop, monitoring status
echo                       Optional Prometheus + Grafana, started and stopped apart from the bots.
echo                       start: start both, wait for Grafana, show its address
echo                       http://localhost:3000 - this computer only. Writes a new
echo                       GRAFANA_ADMIN_PASSWORD into %ENV_FILE% when it has none.
echo                       stop: stop both, their data is kept. status: state and scrape targets.
echo   help                This help.
echo.
echo Environment: HEALTH_TIMEOUT=%HEALTH_TIMEOUT% seconds, HEALTH_POLL_INTERVAL=%HEALTH_POLL_INTERVAL% seconds, LOG_TAIL=%LOG_TAIL% lines
echo Exit codes: 0 ok, 1 runtime failure, 2 usage or preflight failure.
echo.
echo First time:
echo   copy %ENV_EXAMPLE% %ENV_FILE%
echo   notepad %ENV_FILE%
echo   %PROG% start
exit /b 0

:check_tunables
call :is_number "%HEALTH_TIMEOUT%"
if errorlevel 1 (
    >&2 echo [ERROR] HEALTH_TIMEOUT must be a whole number of seconds.
    exit /b 2
)
call :is_number "%HEALTH_POLL_INTERVAL%"
if errorlevel 1 (
    >&2 echo [ERROR] HEALTH_POLL_INTERVAL must be a whole number of seconds.
    exit /b 2
)
call :is_number "%LOG_TAIL%"
if errorlevel 1 (
    >&2 echo [ERROR] LOG_TAIL must be a whole number.
    exit /b 2
)
exit /b 0

:is_number
rem errorlevel 0 when %1 is a plain decimal number (digits only, no leading zero)
set "_num=%~1"
if not defined _num exit /b 1
set "_val="
set /a "_val=_num" >nul 2>&1
if "%_val%"=="%_num%" exit /b 0
exit /b 1

:require_docker
where docker >nul 2>&1
if errorlevel 1 goto :no_docker
docker compose version >nul 2>&1
if errorlevel 1 goto :no_compose
docker info >nul 2>&1
if errorlevel 1 goto :no_daemon
exit /b 0
:no_docker
>&2 echo [ERROR] The docker command was not found. Install Docker first.
>&2 echo   Windows: Docker Desktop  https://docs.docker.com/desktop/setup/install/windows-install/
>&2 echo   Linux:   https://docs.docker.com/engine/install/  then use deploy-multi.sh
>&2 echo   Check after installing:  docker --version  and  docker compose version
exit /b 2
:no_compose
>&2 echo [ERROR] Docker Compose v2, the "docker compose" command, is missing.
>&2 echo   Docker Desktop includes it: update Docker Desktop to a current version.
>&2 echo   The old docker-compose v1 is not supported.
exit /b 2
:no_daemon
>&2 echo [ERROR] Cannot reach the Docker engine.
>&2 echo   Start Docker Desktop and wait until it says "Engine running", then try again.
exit /b 2

:require_env_file
if exist "%ENV_FILE%" exit /b 0
>&2 echo [ERROR] %ENV_FILE% not found.
>&2 echo Copy the example and fill in the keys:
>&2 echo   copy %ENV_EXAMPLE% %ENV_FILE%
>&2 echo   notepad %ENV_FILE%
exit /b 2

:prepare
rem Everything start, restart and update do before touching running containers.
rem %1: generate or require, what to do without a REDIS_PASSWORD, see :ensure_redis_password
call :require_docker
if errorlevel 1 exit /b %errorlevel%
call :require_env_file
if errorlevel 1 exit /b %errorlevel%
call :check_keys
if errorlevel 1 exit /b %errorlevel%
call :ensure_redis_password %1
if errorlevel 1 exit /b %errorlevel%
call :check_redis_url
if errorlevel 1 exit /b %errorlevel%
for %%i in (1 2 3 4) do if not exist "logs\bot-%%i" mkdir "logs\bot-%%i"
echo [INFO] Building the image
%COMPOSE% build
if errorlevel 1 (
    >&2 echo [ERROR] Image build failed. See the output above.
    exit /b 1
)
call :validate_config
if errorlevel 1 exit /b %errorlevel%
exit /b 0

:launch
echo [INFO] Starting Redis + bot-1..bot-4
%COMPOSE% up -d --build --remove-orphans
if errorlevel 1 (
    >&2 echo [ERROR] Could not start the containers.
    exit /b 1
)
set "NOT_HEALTHY="
if "%WAIT%"=="1" for %%i in (1 2 3 4) do call :wait_or_mark bot-%%i
echo.
call :show_status
if defined NOT_HEALTHY (
    >&2 echo [ERROR] Not healthy:%NOT_HEALTHY%. Read the logs: %PROG% logs N
    >&2 echo Common causes: wrong DISCORD_TOKEN, a provider key error, Redis problems. See README_MULTI.md
    exit /b 1
)
echo [OK] Started.
exit /b 0

:wait_or_mark
call :wait_healthy %1
if not errorlevel 1 exit /b 0
set "NOT_HEALTHY=%NOT_HEALTHY% %1"
exit /b 0

:update_one
echo [INFO] [%1/4] Replacing bot-%1. The other instances keep answering.
%COMPOSE% up -d --no-deps bot-%1
if errorlevel 1 (
    >&2 echo [ERROR] Could not start bot-%1. Update stopped.
    set "UPDATE_FAILED=1"
    exit /b 1
)
call :wait_healthy bot-%1
if not errorlevel 1 exit /b 0
>&2 echo [ERROR] Update stopped at bot-%1. Instances not replaced yet keep running the previous version.
>&2 echo Logs: %PROG% logs %1    Status: %PROG% status
set "UPDATE_FAILED=1"
exit /b 1

:show_status
echo [INFO] Containers
%COMPOSE% ps --all
if errorlevel 1 (
    >&2 echo [ERROR] Could not read the container status.
    exit /b 1
)
echo.
echo [INFO] Fleet summary, read by bot-4 from Redis
%COMPOSE% exec -T bot-4 python -m bot status
if errorlevel 1 (
    >&2 echo [WARN] Could not get the fleet summary: bot-4 is not running or not ready yet.
    >&2 echo [WARN] Check the table above. If needed: %PROG% logs 4
)
exit /b 0

:show_monitoring
echo [INFO] Monitoring containers
%COMPOSE% ps --all prometheus grafana
if errorlevel 1 (
    >&2 echo [ERROR] Could not read the container status.
    exit /b 1
)
echo.
echo [INFO] Scrape targets: 1 = Prometheus reads that bot's /metrics, 0 = it cannot
%COMPOSE% exec -T prometheus promtool query instant http://localhost:9090 "up{job=\"mib-bots\"}"
if errorlevel 1 (
    >&2 echo [WARN] Could not read the scrape targets: Prometheus is not running or not ready yet.
    >&2 echo [WARN] If needed: %PROG% logs prometheus
)
echo.
echo Grafana: http://localhost:3000 - opens on this computer only
echo   Log in as admin. The password is GRAFANA_ADMIN_PASSWORD in %ENV_FILE%
echo   Show it: findstr /b GRAFANA_ADMIN_PASSWORD= %ENV_FILE%
echo   From another computer: ssh -L 3000:localhost:3000 USER@SERVER then open http://localhost:3000
exit /b 0

:wait_healthy
rem wait_healthy SERVICE: errorlevel 0 once healthy, 1 after HEALTH_TIMEOUT seconds.
set "SVC=%~1"
set "CID="
set "HS="
set /a ELAPSED=0
echo [INFO] %SVC%: waiting until healthy, at most %HEALTH_TIMEOUT% seconds
:wait_loop
if not defined CID for /f "usebackq delims=" %%c in (`%COMPOSE% ps -q %SVC% 2^>nul`) do if not defined CID set "CID=%%c"
set "HS="
if defined CID for /f "usebackq delims=" %%s in (`docker inspect --format "{{.State.Health.Status}}" %CID% 2^>nul`) do set "HS=%%s"
if "%HS%"=="healthy" (
    echo [OK] %SVC%: healthy
    exit /b 0
)
if %ELAPSED% GEQ %HEALTH_TIMEOUT% goto :wait_timeout
call :sleep %HEALTH_POLL_INTERVAL%
set /a ELAPSED+=HEALTH_POLL_INTERVAL
if %HEALTH_POLL_INTERVAL% EQU 0 set /a ELAPSED+=1
goto :wait_loop
:wait_timeout
if not defined HS set "HS=no container"
>&2 echo [ERROR] %SVC% did not become healthy within %HEALTH_TIMEOUT% seconds, last state: %HS%.
exit /b 1

:sleep
rem timeout refuses to run when input is redirected; ping is the fallback.
timeout /t %1 /nobreak >nul 2>&1
if not errorlevel 1 exit /b 0
set /a _pings=%1+1
ping -n %_pings% 127.0.0.1 >nul 2>&1
exit /b 0

:validate_config
echo [INFO] Validating the settings inside the image: python -m bot check-config, instances 1-4
set "FAILED="
set "ABORT="
for %%i in (1 2 3 4) do if not defined ABORT call :validate_one %%i
if defined ABORT exit /b 1
if defined FAILED (
    >&2 echo [ERROR] Settings check failed for:%FAILED%. Fix %ENV_FILE% using the report above.
    exit /b 2
)
exit /b 0

:validate_one
%COMPOSE% run --rm --no-deps -T -e INSTANCE_ID=%1 bot-%1 python -m bot check-config --instance %1
set "RC=%errorlevel%"
if "%RC%"=="0" (
    echo [OK] bot-%1: settings OK
    exit /b 0
)
if "%RC%"=="2" (
    set "FAILED=%FAILED% bot-%1"
    exit /b 0
)
>&2 echo [ERROR] Could not run the settings check for bot-%1, exit code %RC%.
set "ABORT=1"
exit /b 1

rem --------------------------------------------------------------------------
rem .env.multi checks. The file is read as data, never executed. Plain
rem KEY=value lines are expected, as written in .env.multi.example.
rem --------------------------------------------------------------------------

:load_env
rem ENVF_KEY = the value of each KEY=value line of .env.multi; the last one wins.
for /f "delims==" %%v in ('set ENVF_ 2^>nul') do set "%%v="
for /f "usebackq eol=# tokens=1,* delims==" %%a in ("%ENV_FILE%") do set "ENVF_%%a=%%~b"
rem PLACEHOLDER_VARS = " ENVF_A ENVF_B ": the loaded values that are blank or match a
rem line of bot\placeholders.txt (the placeholder rule deploy-multi.sh and check-config
rem read too), trimmed and without regard to case. PowerShell matches the globs (-like)
rem and prints only variable names, never a value.
if not exist "bot\placeholders.txt" goto :no_placeholder_rule
set "PLACEHOLDER_VARS= "
set "PS_G=$g=Get-Content -LiteralPath 'bot\placeholders.txt' -Encoding UTF8 | ForEach-Object { $_.Trim() } | Where-Object { $_ -and -not $_.StartsWith('#') };"
set "PS_V=Get-ChildItem env: | Where-Object { $_.Name -like 'ENVF_*' } | ForEach-Object { $v=$_.Value.Trim(); if ($v -eq '' -or ($g | Where-Object { $v -like $_ })) { $_.Name } }"
for /f "usebackq delims=" %%n in (`powershell -NoProfile -NonInteractive -Command "%PS_G% %PS_V%"`) do call set "PLACEHOLDER_VARS=%%PLACEHOLDER_VARS%%%%n "
exit /b 0
:no_placeholder_rule
>&2 echo [ERROR] bot\placeholders.txt not found next to %PROG%. Get the whole repository.
exit /b 2

:check_keys
call :load_env
if errorlevel 1 exit /b %errorlevel%
set "MISSING="
call :is_filled ENVF_DISCORD_TOKEN
if errorlevel 1 set "MISSING= DISCORD_TOKEN"
call :need OPENAI_API_KEY 1
call :need MINIMAX_API_KEY 2
call :need STABILITY_API_KEY 2
call :need MINIMAX_API_KEY 3
call :need OPENAI_API_KEY 4
call :need MINIMAX_API_KEY 4
call :need STABILITY_API_KEY 4
if defined MISSING goto :keys_missing
echo [OK] %ENV_FILE%: all required keys are filled.
call :check_reuse
exit /b 0
:keys_missing
>&2 echo [ERROR] Required keys in %ENV_FILE% are empty or still a placeholder (your-...-here, changeme, <...>):
for %%k in (%MISSING%) do >&2 echo   - %%k
>&2 echo Required: DISCORD_TOKEN; instance 1 OPENAI_API_KEY_1; instance 2 MINIMAX_API_KEY_2 and
>&2 echo STABILITY_API_KEY_2; instance 3 MINIMAX_API_KEY_3; instance 4 all three _4 keys.
>&2 echo A shared unsuffixed key such as OPENAI_API_KEY can stand in for a missing _N key.
>&2 echo Open %ENV_FILE%, put real values for these keys, then run again.
exit /b 2

:need
rem need PROVIDER N: add PROVIDER_N to MISSING when instance N has no usable key.
call :resolve_key %1 %2
if not errorlevel 1 exit /b 0
set "MISSING=%MISSING% %1_%2"
exit /b 0

:resolve_key
rem resolve_key PROVIDER N: EFF_NAME = PROVIDER_N, else PROVIDER, when filled.
set "EFF_NAME="
call :is_filled ENVF_%1_%2
if not errorlevel 1 (
    set "EFF_NAME=%1_%2"
    exit /b 0
)
call :is_filled ENVF_%1
if not errorlevel 1 (
    set "EFF_NAME=%1"
    exit /b 0
)
exit /b 1

:is_filled
rem is_filled VARNAME: errorlevel 0 when the variable is set and not a placeholder
rem (PLACEHOLDER_VARS, made by load_env from bot\placeholders.txt).
call :get_value %1
if not defined _v exit /b 1
call set "_rest=%%PLACEHOLDER_VARS: %1 = %%"
if not "%_rest%"=="%PLACEHOLDER_VARS%" exit /b 1
exit /b 0

:get_value
rem get_value VARNAME: _v = the variable's value (keys and tokens hold no % sign).
set "_v="
call set "_v=%%%~1%%"
exit /b 0

:check_reuse
rem The same provider key on two instances is a warning: rate limits are per key.
set "REUSED="
for %%p in (OPENAI_API_KEY MINIMAX_API_KEY STABILITY_API_KEY) do (
    for %%i in (1 2 3 4) do (
        for %%j in (1 2 3 4) do (
            if %%j GTR %%i call :compare_pair %%p %%i %%j
        )
    )
)
if defined REUSED >&2 echo [WARN] Provider rate limits apply per key: give each instance its own key. Continuing.
exit /b 0

:compare_pair
call :resolve_key %1 %2
if errorlevel 1 exit /b 0
set "NAME_I=%EFF_NAME%"
call :resolve_key %1 %3
if errorlevel 1 exit /b 0
call :same_value ENVF_%NAME_I% ENVF_%EFF_NAME%
if errorlevel 1 exit /b 0
set "REUSED=1"
if "%NAME_I%"=="%EFF_NAME%" (
    >&2 echo [WARN] Instances %2 and %3 use the same key %NAME_I%.
) else (
    >&2 echo [WARN] %NAME_I% and %EFF_NAME% have the same value: instances %2 and %3 share one key.
)
exit /b 0

:same_value
rem same_value VAR1 VAR2: errorlevel 0 when both hold the same value.
call :get_value %1
set "_first=%_v%"
call :get_value %2
if "%_first%"=="%_v%" exit /b 0
exit /b 1

rem --------------------------------------------------------------------------
rem Passwords: REDIS_PASSWORD and GRAFANA_ADMIN_PASSWORD. Redis holds
rem interaction tokens of long jobs, so the compose redis requires
rem REDIS_PASSWORD; Grafana, for monitoring, needs an admin password. They live
rem in .env.multi only. A value never passes through this script: PowerShell
rem creates it, writes it into the file and checks it, reading it from the
rem environment. PW_KEY names the password it works on.
rem --------------------------------------------------------------------------

:ensure_redis_password
rem ensure_redis_password generate or require. generate, for start and restart:
rem a missing, empty or placeholder REDIS_PASSWORD is replaced by a random one.
rem require, for update: refuse instead. A rolling update cannot change the
rem password: the instances not replaced yet would lose Redis until their turn.
call :is_filled ENVF_REDIS_PASSWORD
if not errorlevel 1 goto :check_redis_password
if /i not "%~1"=="generate" goto :no_redis_password
call :write_redis_password
if errorlevel 1 exit /b %errorlevel%
call :load_env
if errorlevel 1 exit /b %errorlevel%
call :is_filled ENVF_REDIS_PASSWORD
if errorlevel 1 (
    >&2 echo [ERROR] Could not write REDIS_PASSWORD into %ENV_FILE%. Check the file.
    exit /b 1
)
echo [OK] %ENV_FILE%: REDIS_PASSWORD was missing, a new one was written. The value is not shown.
exit /b 0
:no_redis_password
>&2 echo [ERROR] %ENV_FILE% has no REDIS_PASSWORD, or it is empty or a placeholder.
>&2 echo A rolling update does not set a new Redis password: instances not replaced yet would lose Redis.
>&2 echo Run %PROG% restart once: it writes a password into %ENV_FILE% and restarts everything.
exit /b 2

:write_redis_password
set "PW_KEY=REDIS_PASSWORD"
set "PW_COMMENT=# Redis password written by deploy-multi.bat. How to change it: README_MULTI.md"
call :write_password
exit /b %errorlevel%

:write_password
rem 32 random bytes as hex go into the last plain PW_KEY= line, or two lines,
rem PW_COMMENT and the password, are appended. The file is read and written as
rem Latin-1 bytes, so every other byte stays as it was, and it is written in
rem place, keeping its ACL.
set "PS_1=$ErrorActionPreference='Stop'; $p=(Resolve-Path -LiteralPath $env:ENV_FILE).Path; $e=[Text.Encoding]::GetEncoding(28591); $t=$e.GetString([IO.File]::ReadAllBytes($p));"
set "PS_2=$b=New-Object byte[] 32; [Security.Cryptography.RandomNumberGenerator]::Create().GetBytes($b); $v=$env:PW_KEY+'='+[BitConverter]::ToString($b).Replace('-','').ToLower();"
set "PS_3=$m=[regex]::Matches($t,'(?m)^'+$env:PW_KEY+'=[^\r\n]*'); if ($m.Count -gt 0) { $l=$m[$m.Count-1]; $t=$t.Substring(0,$l.Index)+$v+$t.Substring($l.Index+$l.Length) }"
set "PS_4=else { $n=[string][char]10; if ($t.Contains([string][char]13)) { $n=[string][char]13+$n }; if ($t.Length -gt 0 -and -not $t.EndsWith([string][char]10)) { $t+=$n }; $t+=$env:PW_COMMENT+$n+$v+$n };"
set "PS_5=[IO.File]::WriteAllBytes($p,$e.GetBytes($t))"
powershell -NoProfile -NonInteractive -Command "%PS_1% %PS_2% %PS_3% %PS_4% %PS_5%"
if errorlevel 1 (
    >&2 echo [ERROR] Could not write a new %PW_KEY% into %ENV_FILE%.
    >&2 echo Add the line %PW_KEY%=VALUE yourself, VALUE being 32 or more random letters and digits.
    exit /b 1
)
exit /b 0

:check_redis_password
set "PW_KEY=REDIS_PASSWORD"
call :check_password
exit /b %errorlevel%

:check_password
rem A PW_KEY password set by hand: URL-safe characters only, as REDIS_PASSWORD
rem goes into REDIS_URL as it is. PowerShell reads ENVF_ plus PW_KEY from the
rem environment. Exit code 1: other characters, 3: shorter than 16.
powershell -NoProfile -NonInteractive -Command "$v=[Environment]::GetEnvironmentVariable('ENVF_'+$env:PW_KEY); if ($v -cnotmatch '^[A-Za-z0-9._~-]+$') { exit 1 }; if ($v.Length -lt 16) { exit 3 }; exit 0"
set "RC=%errorlevel%"
if "%RC%"=="1" (
    >&2 echo [ERROR] %PW_KEY% in %ENV_FILE% may only hold letters, digits and . _ ~ - so it can be used as it is.
    >&2 echo Fix the value, or empty it and the script writes a new one.
    exit /b 2
)
if "%RC%"=="3" >&2 echo [WARN] %PW_KEY% in %ENV_FILE% is shorter than 16 characters. A long random value is recommended.
exit /b 0

:ensure_grafana_password
rem monitoring start: a missing, empty or placeholder GRAFANA_ADMIN_PASSWORD is
rem replaced by a random one, as start does for REDIS_PASSWORD.
call :load_env
if errorlevel 1 exit /b %errorlevel%
set "PW_KEY=GRAFANA_ADMIN_PASSWORD"
call :is_filled ENVF_GRAFANA_ADMIN_PASSWORD
if not errorlevel 1 goto :check_password
set "PW_COMMENT=# Grafana admin password written by deploy-multi.bat. See Monitoring in README_MULTI.md"
call :write_password
if errorlevel 1 exit /b %errorlevel%
call :load_env
if errorlevel 1 exit /b %errorlevel%
call :is_filled ENVF_GRAFANA_ADMIN_PASSWORD
if errorlevel 1 (
    >&2 echo [ERROR] Could not write GRAFANA_ADMIN_PASSWORD into %ENV_FILE%. Check the file.
    exit /b 1
)
echo [OK] %ENV_FILE%: GRAFANA_ADMIN_PASSWORD was missing, a new one was written. The value is not shown.
exit /b 0

:check_redis_url
rem A REDIS_URL in .env.multi naming the compose redis without the password cannot log in.
if not defined ENVF_REDIS_URL exit /b 0
set "_u=%ENVF_REDIS_URL%"
if /i "%_u%"=="redis://redis" goto :redis_url_without_password
if /i "%_u:~0,14%"=="redis://redis:" goto :redis_url_without_password
if /i "%_u:~0,14%"=="redis://redis/" goto :redis_url_without_password
exit /b 0
:redis_url_without_password
>&2 echo [ERROR] REDIS_URL in %ENV_FILE% names the compose redis without the password.
>&2 echo Delete that line or comment it out with #: Compose then passes a REDIS_URL with the password.
exit /b 2

:stand_in_redis_password
rem stop, status and logs create no container, but Compose reads the whole file
rem and refuses an empty REDIS_PASSWORD, which .env.multi lacks until the first
rem start: give them a stand-in.
call :load_env
if errorlevel 1 exit /b %errorlevel%
if not defined ENVF_REDIS_PASSWORD set "REDIS_PASSWORD=stand-in-for-a-command-that-creates-no-container"
exit /b 0
