#!/usr/bin/env bash
# `make wheel-check`: the package as users get it. Builds the sdist and, from it, the wheel (uv
# build); checks their metadata (twine check --strict) and the wheel's files; installs the wheel
# alone (no checkout on the path) with Airflow into a fresh environment; and runs the README's
# first DAG from it (`airflow dags test clevertap_first_sync`) against the emulator the wheel ships.
# The environment takes the versions .venv runs with (a constraints file made from it), so uv
# installs them from its cache.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
UV=${UV:-$ROOT/.venv/bin/uv}
PYTHON=${PYTHON:-python3}
export UV_PYTHON_DOWNLOADS=never  # everything from the package index: never an interpreter downloaded by uv
WORK=$ROOT/.wheel-check
rm -rf "$WORK"
mkdir -p "$WORK/dist" "$WORK/dags"

echo "== building the sdist and the wheel"
"$UV" build -q --out-dir "$WORK/dist" .
"$UV" tool run -q --from 'twine>=6' twine check --strict "$WORK"/dist/*
"$PYTHON" - "$WORK"/dist/*.whl <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
for needed in ("airflow_provider_clevertap/py.typed", "airflow_provider_clevertap/facets/CleverTapSyncRunFacet.json"):
    assert needed in names, f"the wheel lacks {needed}"
stray = [name for name in names if name.split("/")[0] in ("tests", "demo", "example_dags", "benchmarks", "scripts")]
assert not stray, f"the wheel carries {stray}"
print(f"the wheel holds {len(names)} files, py.typed and the facets' schemas among them")
PY

echo "== installing the wheel alone, with Airflow, into $WORK/venv"
"$UV" pip freeze --python "$ROOT/.venv/bin/python" | grep -v -i -e '^airflow-provider-clevertap' -e '^-e ' > "$WORK/constraints.txt"
"$UV" venv -q --python "$PYTHON" "$WORK/venv"
VIRTUAL_ENV=$WORK/venv "$UV" pip install -q "$WORK"/dist/*.whl apache-airflow-providers-sqlite -c "$WORK/constraints.txt"

echo "== running clevertap_first_sync from the wheel against its emulator"
cp example_dags/clevertap_first_sync.py "$WORK/dags/"
# The staged customers of `make demo`, written by the system Python (demo/warehouse.py is stdlib only).
"$PYTHON" -c "import sys, datetime as dt; sys.path.insert(0, '$ROOT'); from demo.warehouse import build_warehouse; \
build_warehouse(__import__('pathlib').Path('$WORK/warehouse.db'), 1000, dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))"
cd "$WORK"  # nothing of the checkout importable from here on
"$WORK/venv/bin/python" -m airflow_provider_clevertap.emulator --port 0 --account-id WHEEL-ACCOUNT \
    --passcode "wheel-$RANDOM$RANDOM" > "$WORK/emulator.log" 2>&1 &
EMULATOR=$!
trap 'kill $EMULATOR 2>/dev/null; wait $EMULATOR 2>/dev/null || true' EXIT
for _ in $(seq 600); do grep -q "ready at" "$WORK/emulator.log" && break; sleep 0.1; done
connection=$(sed -n "s/.*AIRFLOW_CONN_CLEVERTAP_DEFAULT='\(.*\)'$/\1/p" "$WORK/emulator.log")
[ -n "$connection" ] || { cat "$WORK/emulator.log"; exit 1; }
url=$(sed -n 's/.*ready at \(http[^ ]*\).*/\1/p' "$WORK/emulator.log")
export AIRFLOW_HOME=$WORK/airflow AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__DAGS_FOLDER=$WORK/dags \
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///$WORK/airflow.db AIRFLOW_CONN_CLEVERTAP_DEFAULT=$connection \
    AIRFLOW_CONN_WAREHOUSE="{\"conn_type\": \"sqlite\", \"host\": \"$WORK/warehouse.db\"}"
unset PYTHONPATH
"$WORK/venv/bin/airflow" db migrate > "$WORK/migrate.log" 2>&1 || { tail -20 "$WORK/migrate.log"; exit 1; }
"$WORK/venv/bin/airflow" pools set clevertap 15 "CleverTap: concurrent requests per account" > /dev/null
"$WORK/venv/bin/airflow" dags test clevertap_first_sync 2026-01-02 > "$WORK/dags-test.log" 2>&1 || true
# 1000 staged customers: 1 without identity, 1 bad email, 1 bad phone (demo/warehouse.py); the rest stored.
"$WORK/venv/bin/python" - "$url" "$WORK/dags-test.log" <<'PY'
import json, sys, urllib.request
log = open(sys.argv[2]).read()
stored = json.load(urllib.request.urlopen(f"{sys.argv[1]}/_emulator/state"))["stats"]["records_stored"]
finished = [line for line in log.splitlines() if "CleverTap upload" in line and "finished" in line]
ok = "state=success" in log and len(finished) == 2 and stored == 997
print(*(line[line.index("CleverTap upload") :][:150] for line in finished), f"the emulator stored {stored} profiles", sep="\n")
if not ok:
    print(log[-4000:])
    sys.exit("the example DAG did not run from the wheel as expected")
print("the wheel works on its own")
PY
