#!/usr/bin/env bash
# The project's test command: lint, the pure-Python tier on two requests/urllib3
# pin sets, and the Odoo tiers (Odoo tests, HTTP tests, end-to-end on a prefork
# server) wherever Odoo 17 is importable. Installs its own tools in .venv (a
# virtualenv that also sees the interpreter's site-packages, so an installed Odoo
# is used) and .venv-urllib3-2 (the second pin set, pure tier only).
#
#   bash tests/run.sh                  everything that can run here
#   bash tests/run.sh --require-odoo   the same, but a tier that needs Odoo 17 and
#                                      cannot run is a failure (CI; = BJ_REQUIRE_ODOO=1)
#   ODOO_PYTHON=/path/python     the interpreter that has Odoo 17 (when set, the only
#                                one tried; default: the first of python3, the odoo
#                                command's, ~/.pyenv/shims/python3, /usr/bin/python3...)
#   BJ_SKIP_LINT=1               skip the linters (quick local runs)
#   BJ_TEST_LATEST=1             also run the pure tier on the newest requests/urllib3
#   BJ_KEEP_DB=1                 keep the Odoo test databases afterwards
#   DB_HOST / DB_PORT / DB_USER  PostgreSQL for the Odoo tiers (127.0.0.1, 5432, odoo)
set -uo pipefail

REQUIRE_ODOO="${BJ_REQUIRE_ODOO:-0}"
for arg in "$@"; do
    case "$arg" in
        --require-odoo) REQUIRE_ODOO=1 ;;
        *) echo "unknown argument: $arg (see the head of tests/run.sh)"; exit 2 ;;
    esac
done
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/bj_api_sync_tests.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

say() { printf '\n== %s\n' "$*"; }
fail_total=0
pass_total=0
summary=()

# ---------------------------------------------------------------- interpreter
odoo17() { "$1" -c 'import odoo.release as r, sys; sys.exit(0 if r.version_info[0] == 17 else 1)' >/dev/null 2>&1; }
PY=""
# The interpreter of an "odoo" command on PATH (pip-installed Odoo) is a candidate too.
odoo_cmd_py="$(command -v odoo >/dev/null 2>&1 && head -n 1 "$(command -v odoo)" | sed -n 's/^#!\([^ ]*python[^ ]*\).*/\1/p')"
candidates=(python3 ${odoo_cmd_py:-} "${HOME:-/root}/.pyenv/shims/python3" /usr/bin/python3
            /usr/local/bin/python3 python)
# An interpreter named by ODOO_PYTHON is the only one tried: it is the user's word.
[ -n "${ODOO_PYTHON:-}" ] && candidates=("$ODOO_PYTHON")
for cand in "${candidates[@]}"; do
    command -v "$cand" >/dev/null 2>&1 || continue
    if odoo17 "$cand"; then PY="$(command -v "$cand")"; break; fi
done
HAVE_ODOO=1
if [ -z "$PY" ]; then
    HAVE_ODOO=0
    PY="$(command -v "${ODOO_PYTHON:-python3}" || command -v python3 || command -v python)"
fi
say "Python: $PY ($("$PY" --version 2>&1))"

# ---------------------------------------------------------------- tools
# make_venv DIR SITE REQUIREMENTS...: a virtualenv with those requirements,
# rebuilt when they (or the interpreter) change. SITE=1 lets it see the
# interpreter's packages (an installed Odoo and its own requests/urllib3 pins).
make_venv() {
    local dir="$1" site="$2"; shift 2
    local stamp
    stamp="$dir/.bj-requirements-$(cat "$@" | { cat; "$PY" -c 'import sys; print(sys.version, sys.prefix)'; echo "$site $HAVE_ODOO"; } | sha1sum | cut -c1-12)"
    [ -e "$stamp" ] && return 0
    say "Installing test tools into $(basename "$dir") ($*)"
    rm -rf "$dir"
    local opts=()
    [ "$site" = 1 ] && opts=(--system-site-packages)
    "$PY" -m venv "${opts[@]}" "$dir" || { echo "cannot create the virtualenv $dir"; exit 2; }
    local files=()
    for file in "$@"; do files+=(-r "$file"); done
    "$dir/bin/python" -m pip install -q --disable-pip-version-check "${files[@]}" \
        || { echo "pip install ${files[*]} failed"; exit 2; }
    touch "$stamp"
}
# Pin set 1 is Odoo 17's own requests/urllib3: the interpreter's where Odoo is
# installed (what the addon really runs with), else Odoo's Python 3.10-3.11 pins.
if [ "$HAVE_ODOO" = 1 ]; then
    make_venv "$VENV" 1 requirements-test.txt
else
    make_venv "$VENV" 1 requirements-test.txt tests/requirements-pins-odoo17.txt
fi
VPY="$VENV/bin/python"
# Pin set 2: Odoo 17's pins on Python 3.12 (requests 2.31, urllib3 2.0.7), for the
# pure tier and, where Odoo is installed (seen through the interpreter's packages,
# the pins shadowing its own), for the outbound Odoo tests.
VENV2="$ROOT/.venv-urllib3-2"
make_venv "$VENV2" "$HAVE_ODOO" tests/requirements-pins-urllib3-2.txt
if [ "${BJ_TEST_LATEST:-0}" = 1 ]; then
    VENV3="$WORK/venv-latest"
    make_venv "$VENV3" 0 tests/requirements-latest.txt
fi

# ---------------------------------------------------------------- lint
if [ "${BJ_SKIP_LINT:-0}" != 1 ]; then
    say "Lint: ruff"
    if "$VPY" -m ruff check bj_api_sync tests; then summary+=("lint ruff: clean"); else
        summary+=("lint ruff: FAILED"); fail_total=$((fail_total + 1)); fi
    say "Lint: pylint-odoo"
    # Without Odoo every "import odoo" is an import-error: not the code's fault.
    pylint_extra=()
    [ "$HAVE_ODOO" = 1 ] || pylint_extra=(--disable=import-error)
    if "$VPY" -m pylint --rcfile=.pylintrc "${pylint_extra[@]}" bj_api_sync; then summary+=("lint pylint-odoo: clean"); else
        summary+=("lint pylint-odoo: FAILED"); fail_total=$((fail_total + 1)); fi
fi

# ---------------------------------------------------------------- pure tier
# Counts come from pytest's junit report, so they cannot drift from what ran.
junit_counts() {  # file -> "tests failures errors skipped"
    "$VPY" - "$1" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 0 1 0"); sys.exit()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) for s in suites)
e = sum(int(s.get("errors", 0)) for s in suites)
k = sum(int(s.get("skipped", 0)) for s in suites)
print(t, f, e, k)
PYEOF
}
tier() {  # name junit-file rc
    read -r t f e k <<<"$(junit_counts "$2")"
    local ok=$((t - f - e - k))
    pass_total=$((pass_total + ok)); fail_total=$((fail_total + f + e))
    if [ "$3" != 0 ] && [ $((f + e)) = 0 ]; then fail_total=$((fail_total + 1)); fi
    if [ "$t" = 0 ]; then fail_total=$((fail_total + 1)); fi  # a tier that ran nothing failed
    summary+=("$1: ran $t tests: $ok passed, $f failed, $e errors, $k skipped")
}

pins() {  # python -> "requests X + urllib3 Y"
    "$1" -c 'import requests, urllib3; print(f"requests {requests.__version__} + urllib3 {urllib3.__version__}")'
}
pure_tier() {  # python label
    local where
    where="$(pins "$1")"
    say "Tier 1: pure-Python engine tests (no database), $where"
    "$1" -m pytest -p no:cacheprovider -p no:odoo -q tests/pure --junitxml="$WORK/pure-$2.xml"
    tier "tier 1 pure-Python ($where)" "$WORK/pure-$2.xml" $?
}
pure_tier "$VPY" 1
pure_tier "$VENV2/bin/python" 2
[ -n "${VENV3:-}" ] && pure_tier "$VENV3/bin/python" latest

# ---------------------------------------------------------------- Odoo tier
DB_HOST="${DB_HOST:-127.0.0.1}"
DB_PORT="${DB_PORT:-5432}"
DB_USER="${DB_USER:-odoo}"
pg_ok() { "$VPY" -c "import psycopg2,sys; psycopg2.connect(host='$DB_HOST', port=$DB_PORT, user='$1', dbname='postgres').close()" >/dev/null 2>&1; }

if [ "$HAVE_ODOO" = 1 ] && ! pg_ok "$DB_USER"; then
    # A fresh machine with trust auth has a superuser but no "odoo" role: make one
    # (Odoo refuses to run as the "postgres" role).
    "$VPY" -c "
import psycopg2
c = psycopg2.connect(host='$DB_HOST', port=$DB_PORT, user='postgres', dbname='postgres')
c.autocommit = True
c.cursor().execute('CREATE ROLE \"$DB_USER\" LOGIN CREATEDB')" >/dev/null 2>&1 || true
fi

NO_ODOO="no Python here imports Odoo 17: install Odoo 17 and its requirements into python3 or set ODOO_PYTHON to its interpreter, or run 'docker compose run --rm odoo-tests'"
if [ "$HAVE_ODOO" = 0 ]; then
    if [ "$REQUIRE_ODOO" = 1 ]; then
        summary+=("tier 2 Odoo + tier 3 end-to-end: FAILED - Odoo 17 is required (--require-odoo / BJ_REQUIRE_ODOO=1) but $NO_ODOO.")
        fail_total=$((fail_total + 1))
    else
        summary+=("tier 2 Odoo: NOT RUN - $NO_ODOO.")
        summary+=("tier 3 end-to-end: NOT RUN - same reason.")
    fi
elif ! pg_ok "$DB_USER"; then
    summary+=("tier 2 Odoo: NOT RUN - PostgreSQL is not reachable at $DB_HOST:$DB_PORT as role $DB_USER (set DB_HOST/DB_PORT/DB_USER).")
    fail_total=$((fail_total + 1))
else
    DB="bj_api_sync_test_$(date +%s)_$$"
    ODOO_ADDONS="$("$VPY" -c 'import odoo, os; print(os.path.join(os.path.dirname(odoo.__file__), "addons"))')"
    HTTP_PORT="$("$VPY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    CONF="$WORK/odoo.conf"
    cat >"$CONF" <<EOF
[options]
db_host = $DB_HOST
db_port = $DB_PORT
db_user = $DB_USER
db_password = False
addons_path = $ODOO_ADDONS,$ROOT
http_interface = 127.0.0.1
http_port = $HTTP_PORT
gevent_port = 0
without_demo = all
log_level = info
max_cron_threads = 0
EOF
    odoo_bin() { "$VPY" -c 'import odoo.cli; odoo.cli.main()' -c "$CONF" "$@"; }
    addon_noise() {  # WARNING/ERROR lines that come from the addon or name it
        grep -E ' (WARNING|ERROR|CRITICAL) ' "$1" | grep -E 'bj_api_sync|bj\.api|bj_api' || true
    }
    cleanup_db() {
        [ "${BJ_KEEP_DB:-0}" = 1 ] && { echo "kept database $DB"; return; }
        "$VPY" -c "
import psycopg2
c = psycopg2.connect(host='$DB_HOST', port=$DB_PORT, user='$DB_USER', dbname='postgres')
c.autocommit = True
c.cursor().execute('DROP DATABASE IF EXISTS \"$DB\"')" >/dev/null 2>&1 || true
    }

    # odoo_tag_tier LABEL TAG NAME: run the tests tagged TAG through odoo-bin and
    # count them from Odoo's report (skips apart, named in tier_skip_names).
    odoo_tag_tier() {
        local log="$WORK/$3.log" rc report f e t k ok
        odoo_bin -d "$DB" --test-enable --test-tags "$2" --stop-after-init >"$log" 2>&1
        rc=$?
        grep -E ' (ERROR|CRITICAL) |^(FAIL|ERROR):|Traceback' "$log" | head -n 80
        report="$(grep -oE '[0-9]+ failed, [0-9]+ error\(s\) of [0-9]+ tests' "$log" | tail -n 1)"
        if [ -z "$report" ]; then
            tail -n 60 "$log"
            summary+=("$1: FAILED (no test report; rc=$rc)"); fail_total=$((fail_total + 1))
            return
        fi
        read -r f _ e _ _ t _ <<<"$report"
        e="${e%%error*}"
        # Odoo counts a skipped test as run: count the skips apart.
        tier_skip_names="$(grep -oE 'odoo\.addons\.bj_api_sync\.tests\.[a-z_]+: skipped .*' "$log" || true)"
        k="$(printf '%s' "$tier_skip_names" | grep -c . || true)"
        tier_skipped="$k"
        ok=$((t - f - e - k))
        pass_total=$((pass_total + ok)); fail_total=$((fail_total + f + e))
        if [ "$t" = 0 ]; then fail_total=$((fail_total + 1)); fi
        summary+=("$1: ran $t tests: $ok passed, $f failed, $e errors, $k skipped")
    }

    say "Tier 2: Odoo 17 - installing bj_api_sync in a new database $DB"
    odoo_bin -d "$DB" -i bj_api_sync --stop-after-init >"$WORK/install.log" 2>&1
    rc=$?
    noise="$(addon_noise "$WORK/install.log")"
    if [ $rc != 0 ] || [ -n "$noise" ] || ! grep -q "Module bj_api_sync loaded" "$WORK/install.log"; then
        tail -n 60 "$WORK/install.log"; echo "$noise"
        summary+=("tier 2 install: FAILED (rc=$rc; see above)"); fail_total=$((fail_total + 1))
    else
        summary+=("tier 2 install: clean (no WARNING/ERROR from the addon)")
        odoo_bin -d "$DB" -u bj_api_sync --stop-after-init >"$WORK/upgrade.log" 2>&1
        rc=$?
        noise="$(addon_noise "$WORK/upgrade.log")"
        if [ $rc != 0 ] || [ -n "$noise" ]; then
            tail -n 40 "$WORK/upgrade.log"; echo "$noise"
            summary+=("tier 2 upgrade: FAILED"); fail_total=$((fail_total + 1))
        else
            summary+=("tier 2 upgrade: clean")
        fi

        say "Tier 2a: Odoo tests through pytest-odoo (database $DB)"
        "$VPY" -m pytest -p no:cacheprovider -q --odoo-database="$DB" --odoo-config="$CONF" \
            --ignore-glob='*/tests/test_http_*.py' --ignore-glob='*/tests/test_tour_*.py' bj_api_sync/tests --junitxml="$WORK/odoo.xml"
        tier "tier 2a Odoo (pytest-odoo)" "$WORK/odoo.xml" $?

        where2="$(pins "$VENV2/bin/python")"
        say "Tier 2a: the outbound Odoo tests again, $where2"
        "$VENV2/bin/python" -m pytest -p no:cacheprovider -q --odoo-database="$DB" \
            --odoo-config="$CONF" bj_api_sync/tests/test_outbound*.py \
            bj_api_sync/tests/test_outbox*.py bj_api_sync/tests/test_row_payloads.py \
            --junitxml="$WORK/odoo-pins2.xml"
        tier "tier 2a outbound Odoo tests ($where2)" "$WORK/odoo-pins2.xml" $?

        say "Tier 2b: Odoo HTTP tests through odoo-bin --test-enable (real HTTP server)"
        if ls bj_api_sync/tests/test_http_*.py >/dev/null 2>&1; then
            odoo_tag_tier "tier 2b Odoo HTTP (odoo-bin)" bj_api_sync_http http
        else
            summary+=("tier 2b Odoo HTTP: no HTTP test files")
        fi

        say "Tier 2c: browser tour through odoo-bin --test-enable (headless Chromium)"
        if ls bj_api_sync/tests/test_tour_*.py >/dev/null 2>&1; then
            odoo_tag_tier "tier 2c browser tour (Chromium)" bj_api_sync_tour tour
            if [ "${tier_skipped:-0}" != 0 ]; then
                summary+=("tier 2c browser tour: $tier_skipped SKIPPED, not passed: $(printf '%s' "$tier_skip_names" | paste -sd, -) (Odoo says why above: no Chromium -> 'apt-get install chromium'; no websocket-client -> requirements-test.txt)")
            fi
        else
            summary+=("tier 2c browser tour: no tour test files")
        fi
    fi
    cleanup_db

    say "Tier 3: end-to-end on a prefork Odoo server (2 workers, a cron thread), driven from outside"
    DB_HOST="$DB_HOST" DB_PORT="$DB_PORT" DB_USER="$DB_USER" \
        "$VPY" -m pytest -p no:cacheprovider -p no:odoo -q tests/e2e --junitxml="$WORK/e2e.xml"
    tier "tier 3 end-to-end (prefork server)" "$WORK/e2e.xml" $?
fi

say "Summary"
printf '%s\n' "${summary[@]}"
echo "${pass_total} passed, ${fail_total} failed"
[ "$fail_total" = 0 ]
