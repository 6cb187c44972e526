#!/usr/bin/env bash
# Issue 15's load: the product under gunicorn (deploy/gunicorn.conf.py, 2 workers per core) and
# the floor app (bench/floor.py, as many workers) on the bench database, then the same mix
# against each (bench/load.py), one after the other, and the workers' RSS after each.
#
#   bench/run_load.sh postgresql+psycopg://postgres@127.0.0.1:5432/bench_db [USERS] [SECONDS] [THINK]
#
# THINK: mean seconds each simulated user reads a page before the next request (default 0: a
# closed loop asking again at once).
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${1:?the bench database URL}
USERS=${2:-200}
SECONDS_=${3:-60}
THINK=${4:-0}
WORKERS=$(( 2 * $(nproc) ))
PRODUCT_PORT=${PRODUCT_PORT:-8010}
FLOOR_PORT=${FLOOR_PORT:-8011}
RUN=$(mktemp -d /tmp/qms-load-XXXX)
export DATABASE_URL="$DB" QMS_INSTANCE_DIR="$RUN" SECRET_KEY=bench-load-secret AUTH_RATE_LIMITED=0
export QMS_LOG_LEVEL=warning

.venv/bin/gunicorn --config deploy/gunicorn.conf.py --bind 127.0.0.1:$PRODUCT_PORT --workers $WORKERS \
    --pid "$RUN/product.pid" --access-logfile /dev/null --error-logfile "$RUN/product.log" \
    --daemon 2>>"$RUN/product.log"
.venv/bin/gunicorn --bind 127.0.0.1:$FLOOR_PORT --workers $WORKERS --pid "$RUN/floor.pid" \
    --error-logfile "$RUN/floor.log" --daemon 'bench.floor:create_floor_app()'
stop() {
    for name in product floor; do
        pid=$(cat "$RUN/$name.pid" 2>/dev/null) || continue
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 45); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        kill -9 "$pid" 2>/dev/null || true
    done
}
trap stop EXIT
for url in "http://127.0.0.1:$PRODUCT_PORT/health" "http://127.0.0.1:$FLOOR_PORT/home"; do
    for _ in $(seq 60); do curl -fs -o /dev/null "$url" && break; sleep 1; done
done
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(psql "${DB/+psycopg/}" -tAc 'show server_version' 2>/dev/null | cut -d' ' -f1) PostgreSQL; $WORKERS workers each"
.venv/bin/python bench/load.py --target product --base "http://127.0.0.1:$PRODUCT_PORT" --db "$DB" \
    --users "$USERS" --seconds "$SECONDS_" --think "$THINK" --master-pid "$(cat "$RUN/product.pid")"
.venv/bin/python bench/load.py --target floor --base "http://127.0.0.1:$FLOOR_PORT" --db "$DB" \
    --users "$USERS" --seconds "$SECONDS_" --think "$THINK" --master-pid "$(cat "$RUN/floor.pid")"
