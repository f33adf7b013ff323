#!/usr/bin/env bash
# `make matrix [VERSIONS="minimum 3.1.8"]`: for each Airflow version, its own environment in
# .matrix/VERSION (installed from the package index with uv), the test suite, then `make demo`'s
# run. "minimum" is the oldest supported Airflow with the lowest provider versions we declare
# (constraints/minimum.txt); any other version gets the newest providers the index serves.
# constraints/airflow-MAJOR.MINOR.txt, where present, caps what that Airflow release itself leaves
# open and breaks with, for both. The warehouse and browser tests and the benchmarks' own tests run
# once, in `make test`, not here. Prints one line per version at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv/bin/uv}
PYTHON=${PYTHON:-python3}
# Everything installed comes from the package index: never a Python interpreter downloaded by uv.
export UV_PYTHON_DOWNLOADS=never
results=()
status=0
for version in "$@"; do
    start=$(date +%s)
    env=.matrix/$version
    rm -f "$env/tested-set.txt"
    constraints=()
    if [ "$version" = minimum ]; then
        constraints=(-c constraints/minimum.txt)
        airflow=$(sed -n 's/^apache-airflow==//p' constraints/minimum.txt)
    else
        airflow=$version
    fi
    minor=constraints/airflow-$(echo "$airflow" | cut -d. -f1,2).txt
    [ -f "$minor" ] && constraints+=(-c "$minor")
    echo "== Airflow $version: installing into $env"
    if ! { "$UV" venv -q --allow-existing --python "$PYTHON" "$env" \
        && VIRTUAL_ENV=$env "$UV" pip install -q "apache-airflow==$airflow" -e '.[test]' "${constraints[@]}"; }; then
        results+=("$version: install FAILED"); status=1; continue
    fi
    echo "== Airflow $version: test suite"
    if "$env/bin/python" -m pytest -q -p no:cacheprovider -m "not warehouse and not browser" --ignore=tests/benchmarks | tee "$env/pytest.log"; then suite=passed; else suite=FAILED; status=1; fi
    # pytest's closing line: the counts.
    suite="$suite ($(tail -n 1 "$env/pytest.log" | tr -d '=' | sed 's/^ *//; s/ *$//'))"
    echo "== Airflow $version: demo"
    if CLEVERTAP_DEMO_DIR=$env/demo "$env/bin/python" -m demo.run_demo; then demo=works; else demo=FAILED; status=1; fi
    # The exact set both passed with: a constraints file a user can pin (docs/airflow-versions.md).
    if [[ $suite == passed* && $demo == works ]]; then
        VIRTUAL_ENV=$env "$UV" pip freeze -q --exclude-editable > "$env/tested-set.txt"
    fi
    results+=("$version: suite $suite, demo $demo, $(( $(date +%s) - start )) s")
done
echo
printf '%s\n' "${results[@]}"
exit $status
