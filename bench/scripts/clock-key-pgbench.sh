#!/usr/bin/env bash
# Clock keys as jsonb (the version before 2026-12-04's text keys) against text, in PostgreSQL alone:
# two databases with a synced bench_row of 400k rows (one set up by the earlier install script and
# triggers, one by the current ones), then pgbench rounds alternating between them: a direct insert of
# 100 rows, a direct update of 100 random rows, and the relay's clock statements for 100 rows.
# Usage: bench/scripts/clock-key-pgbench.sh [rounds] (PGHOST, PGUSER, PGPORT as for psql; default
# 127.0.0.1, postgres). Drops and creates the databases ck_old and ck_new. See docs/BENCHMARKS.md.
set -euo pipefail
export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
first="CASE WHEN coalesce(current_setting('syncsqlite.queued', true), '') = '' THEN set_config('syncsqlite.queued', '1', true) = '1' ELSE false END"

setup() { # database, install script, capture function
    psql -q -d postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"
    psql -q -d "$1" -c "CREATE TABLE bench_row (id TEXT PRIMARY KEY, n BIGINT NOT NULL, body TEXT NOT NULL)"
    psql -q -d "$1" -f "$2" 2>/dev/null
    psql -q -d "$1" <<SQL
CREATE TRIGGER syncsqlite_capture_insert AFTER INSERT ON bench_row REFERENCING NEW TABLE AS syncsqlite_new
    FOR EACH STATEMENT EXECUTE FUNCTION syncsqlite.$3('id');
CREATE TRIGGER syncsqlite_capture_update AFTER UPDATE ON bench_row REFERENCING OLD TABLE AS syncsqlite_old
    NEW TABLE AS syncsqlite_new FOR EACH STATEMENT EXECUTE FUNCTION syncsqlite.$3('id');
CREATE TRIGGER syncsqlite_capture_delete AFTER DELETE ON bench_row REFERENCING OLD TABLE AS syncsqlite_old
    FOR EACH STATEMENT EXECUTE FUNCTION syncsqlite.$3('id');
CREATE CONSTRAINT TRIGGER syncsqlite_commit AFTER INSERT OR UPDATE OR DELETE ON bench_row DEFERRABLE INITIALLY
    DEFERRED FOR EACH ROW WHEN ($first) EXECUTE FUNCTION syncsqlite.commit_mark_trigger();
INSERT INTO bench_row SELECT 'k' || lpad(g::text, 9, '0'), g, md5(g::text) || md5(g::text)
FROM generate_series(1, 400000) AS g;
CREATE SEQUENCE k START 1000001;
VACUUM ANALYZE;
SQL
}
setup ck_old "$root/it-tests/src/test/resources/io/syncsqlite/it/relay/install-jsonb-keys.sql" capture
setup ck_new "$root/server-relay/src/main/resources/io/syncsqlite/relay/schema/install.sql" capture_rows

cat > "$work/dins.sql" <<'SQL'
INSERT INTO bench_row SELECT 'n' || nextval('k'), 1, md5(g::text) || md5(g::text) FROM generate_series(1, 100) AS g;
SQL
cat > "$work/dupd.sql" <<'SQL'
UPDATE bench_row SET n = n + 1
WHERE id IN (SELECT 'k' || lpad((1 + floor(random() * 400000))::int::text, 9, '0') FROM generate_series(1, 100));
SQL
# The relay's READ_CLOCKS (TxRun) for 100 existing keys, then 100 fresh clock rows, in one transaction.
cat > "$work/rclk_old.sql" <<'SQL'
BEGIN;
SELECT count(*) FROM (SELECT rc.tbl, rc.pk::text, rc.alive FROM unnest(array_fill('bench_row'::text, ARRAY[100]),
    ARRAY(SELECT jsonb_build_object('id', 'k' || lpad((1 + floor(random() * 400000))::int::text, 9, '0'))::text
          FROM generate_series(1, 100))) AS u(t, p)
    CROSS JOIN LATERAL (SELECT * FROM syncsqlite.row_clock AS x WHERE x.tbl = u.t AND x.pk = u.p::jsonb FOR UPDATE) AS rc) AS q;
INSERT INTO syncsqlite.row_clock (tbl, pk, alive, alive_hlc, alive_node, cols)
SELECT 'bench_row', jsonb_build_object('id', 'r' || nextval('k')), true, 1, 'n', '{}' FROM generate_series(1, 100);
COMMIT;
SQL
sed -e 's/x.pk = u.p::jsonb/x.pk = u.p/' -e 's/rc.pk::text/rc.pk/' \
    -e "s/jsonb_build_object('id', 'r' || nextval('k'))/jsonb_build_object('id', 'r' || nextval('k'))::text/" \
    "$work/rclk_old.sql" > "$work/rclk_new.sql"

export PGOPTIONS="-c synchronous_commit=off"
echo "round script keys ms-per-transaction"
for r in $(seq 1 "$rounds"); do
    for s in dins dupd rclk; do
        for v in old new; do
            f="$work/$s.sql"; [ "$s" = rclk ] && f="$work/rclk_$v.sql"
            ms=$(pgbench -n -f "$f" -T 8 "ck_$v" 2>&1 | awk '/latency average/ {print $4}')
            echo "$r $s $([ $v = old ] && echo jsonb || echo text) $ms"
        done
    done
done
