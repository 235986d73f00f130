package io.syncsqlite.relay.apply;

import io.syncsqlite.relay.feed.FeedRow;
import io.syncsqlite.relay.schema.Sql;
import io.syncsqlite.relay.schema.TableInfo;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * The SQL the applier runs against one synced table. Every statement takes its rows as one JSON array
 * parameter and lets {@code jsonb_populate_recordset} convert the values to the columns' types, so values
 * are never part of SQL text and many rows cost one statement; names come from the catalog and are quoted.
 *
 * <p>Thread-safe: immutable apart from a concurrent cache of the column-set-specific statements.
 */
final class TableStatements {

    private final TableInfo table;
    private final int rank;
    private final String records;
    private final String lockKeys;
    private final String lockTable;
    private final String presence;
    private final String logCurrent;
    private final String readCurrent;
    private final String delete;
    private final Map<String, String> inserts = new ConcurrentHashMap<>();
    private final Map<String, String> updates = new ConcurrentHashMap<>();
    private final Map<String, String> additions = new ConcurrentHashMap<>();
    /** Read on first use: most tables are nobody's parent, and those pay one query per catalog. */
    private volatile List<CascadeGuard.Reference> references;

    /** @param rank the table's place in parents-first order (foreign keys), for ordering grouped writes */
    TableStatements(TableInfo table, int rank) {
        this.table = table;
        this.rank = rank;
        String q = table.qualifiedName();
        List<String> pk = table.primaryKey();
        this.records = "jsonb_populate_recordset(NULL::" + q + ", ?::jsonb)";

        // Normalises the client's keys to PostgreSQL's own JSON form (e.g. "5" for an int key becomes 5)
        // and takes the per-row advisory locks in lock-key order, so that two relay transactions touching
        // the same rows always lock them in the same order and cannot deadlock on them. The sort is in a
        // subquery, which PostgreSQL does not flatten, so the locks are taken in that order.
        // First the table's lock: shared by every relay transaction that locks rows one by one, exclusive
        // for a bulk transaction, which then takes no row locks at all (see TxRun.lockRows).
        // The table lock's holders are relay transactions whose own waits are each bounded: wait for it
        // without lock_timeout, then put the bound back for the rows.
        String tableLock = "SELECT set_config('syncsqlite.lock_timeout', current_setting('lock_timeout'), true), "
                + "set_config('lock_timeout', '0', true); "
                + "SELECT pg_advisory_xact_lock%s(hashtextextended(" + Sql.literal("\u0001" + table.name())
                + ", 0)); SELECT set_config('lock_timeout', current_setting('syncsqlite.lock_timeout'), true); ";
        String keys = "SELECT e.i, " + Sql.clockKey("r.", table) + " AS pk "
                + "FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS e(v, i), "
                + "LATERAL jsonb_populate_record(NULL::" + q + ", e.v) AS r";
        this.lockKeys = String.format(tableLock, "_shared") + "SELECT s.i, s.pk, pg_advisory_xact_lock(s.k) FROM ("
                + "SELECT x.i, x.pk, hashtextextended(" + Sql.literal(table.name()) + " || x.pk, 0) AS k FROM ("
                + keys + ") AS x ORDER BY k) AS s";
        this.lockTable = String.format(tableLock, "") + "SELECT x.i, x.pk FROM (" + keys + ") AS x";

        // One primary key lookup per key (a locking subquery is not flattened into a join, which, with
        // the statistics of a table that is filling up, could be planned as a scan of the whole table).
        this.presence = "SELECT " + Sql.clockKey("t.", table) + " FROM jsonb_populate_recordset(NULL::" + q
                + ", ?::jsonb) AS k CROSS JOIN LATERAL (SELECT * FROM " + q + " AS x WHERE "
                + Sql.pkEquals("x.", "k.", pk) + " FOR UPDATE) AS t";

        String firstPk = "t." + Sql.ident(pk.get(0));
        // A key without a row is logged as a delete whose previous values are {"~origin": node}: it deleted
        // nothing, so it took no row out of anyone's scope or membership, and only the client whose
        // transaction named the key needs to hear it (see ClientSession.visible).
        String image = "CASE WHEN " + firstPk + " IS NULL THEN NULL ELSE to_jsonb(t.*) END";
        String hlc = "coalesce(" + Sql.rowHlc("rc", table) + ", 0)";
        String rows = "FROM jsonb_populate_recordset(NULL::" + q + ", ?::jsonb) AS k "
                + "LEFT JOIN " + q + " AS t ON " + Sql.pkEquals("t.", "k.", pk) + " "
                + "LEFT JOIN syncsqlite.row_clock AS rc ON rc.tbl = " + Sql.literal(table.name())
                + " AND rc.pk = " + Sql.clockKey("k.", table) + " ";
        this.logCurrent = "INSERT INTO syncsqlite.change (tbl, kind, pk, \"row\", hlc, old) SELECT "
                + Sql.literal(table.name()) + ", CASE WHEN " + firstPk + " IS NULL THEN 'D' ELSE 'U' END, "
                + Sql.pkObject("k.", pk) + ", " + image + ", " + hlc + ", "
                + "CASE WHEN " + firstPk + " IS NULL THEN jsonb_build_object('" + FeedRow.NO_ROW_ORIGIN + "', ?::text) END "
                + rows + "RETURNING pk::text, \"row\"::text, hlc";
        this.readCurrent = "SELECT " + Sql.pkObject("k.", pk) + "::text, (" + image + ")::text, " + hlc + " " + rows;

        this.delete = "DELETE FROM " + q + " AS t USING " + records + " AS r WHERE " + Sql.pkEquals("t.", "r.", pk);
    }

    TableInfo table() {
        return table;
    }

    /** The foreign keys of synced tables onto this one that act on delete ({@link CascadeGuard}). */
    List<CascadeGuard.Reference> references(java.sql.Connection c, io.syncsqlite.relay.schema.Catalog catalog)
            throws java.sql.SQLException {
        List<CascadeGuard.Reference> r = references;
        if (r == null) {
            r = CascadeGuard.references(c, catalog, table);
            references = r;
        }
        return r;
    }

    int rank() {
        return rank;
    }

    /**
     * A foreign key of this table with ON DELETE CASCADE: its columns, the parent (quoted, as regclass prints it)
     * and its columns, and the parent's bare name (as the change log names it).
     */
    record CascadeKey(List<String> columns, String parent, List<String> parentColumns, String parentName) {
    }

    /** Read on first use, as {@link #references}. */
    private volatile List<CascadeKey> cascadeKeys;

    /** This table's foreign keys with ON DELETE CASCADE: what can take its rows along with another row. */
    List<CascadeKey> cascadeKeys(java.sql.Connection c) throws java.sql.SQLException {
        List<CascadeKey> keys = cascadeKeys;
        if (keys == null) {
            List<CascadeKey> found = new java.util.ArrayList<>();
            try (java.sql.PreparedStatement ps = c.prepareStatement("SELECT con.confrelid::regclass::text, "
                    + Compensation.FOREIGN_KEY_COLUMNS + ", (SELECT p.relname::text FROM pg_class AS p WHERE p.oid = con.confrelid) "
                    + "FROM pg_constraint AS con WHERE con.conrelid = ?::regclass "
                    + "AND con.contype = 'f' AND con.confdeltype = 'c' ORDER BY con.conname")) {
                ps.setString(1, table.qualifiedName());
                try (java.sql.ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        found.add(new CascadeKey(List.of((String[]) rs.getArray(2).getArray()), rs.getString(1),
                                List.of((String[]) rs.getArray(3).getArray()), rs.getString(4)));
                    }
                }
            }
            keys = List.copyOf(found);
            cascadeKeys = keys;
        }
        return keys;
    }

    /**
     * For a row that may have gone with another row's delete ({@code row_clock.cascaded} true, or NULL for a
     * direct delete): its last image with the given update's columns written over it, and whether the update
     * moves it out of a parent that went: it sets a column of one of {@code keys} to another value, not NULL,
     * and the transaction that deleted the row ({@code dead_xid}) deleted the parent of its old values too.
     * That parent is found through the change log's deletes of that transaction and their clock rows, which
     * must carry the same {@code dead_xid} (a key change logs a delete of the old key too, but is no delete;
     * a parent created again since keeps it, and is compared by its logged key, having no tombstone image),
     * compared with the parent's own types (a {@code citext} or {@code char} key matches as its foreign key
     * does) and by the referenced columns (a key onto a UNIQUE column). A tombstone the relay marked also
     * counts when the parent of the old values no longer exists (a parent that is not synced, or a tombstone
     * from before {@code dead_xid}).
     * A direct delete's row comes back only into a parent that exists: the direct writer saw nothing of the
     * move, and a parent it deleted too would have taken the moved row along in the other order. A row
     * deleted by name in the same transaction as its parent counts as gone with it. Parameters: the clock's
     * table and key, the update's key and values, the names of its columns. No row when the tombstone is not
     * such, or has no image.
     */
    String movedOutOfTombstone(List<CascadeKey> keys) {
        String q = table.qualifiedName();
        StringBuilder moves = new StringBuilder("false");
        for (CascadeKey k : keys) {
            String changed = k.columns().stream().map(col -> "(x.img -> " + Sql.literal(col) + " IS DISTINCT FROM x.dead_row -> "
                    + Sql.literal(col) + " AND x.img -> " + Sql.literal(col) + " <> 'null')").collect(Collectors.joining(" OR "));
            String parentCols = Sql.columns("p.", k.parentColumns());
            String deletedWith = "EXISTS (SELECT FROM syncsqlite.change AS g JOIN syncsqlite.row_clock AS pr "
                    + "ON pr.tbl = g.tbl AND pr.pk = syncsqlite.clock_key(g.pk) "
                    + "CROSS JOIN LATERAL jsonb_populate_record(NULL::" + k.parent() + ", coalesce(pr.dead_row, g.pk)) AS p "
                    + "WHERE g.xid = x.dead_xid AND g.tbl = " + Sql.literal(k.parentName()) + " AND g.kind = 'D' "
                    + "AND pr.dead_xid = x.dead_xid AND (" + parentCols + ") = (" + Sql.columns("o.", k.columns()) + "))";
            String oldParentGone = "NOT EXISTS (SELECT FROM " + k.parent() + " AS p WHERE (" + parentCols + ") = ("
                    + Sql.columns("o.", k.columns()) + "))";
            String newParentThere = "EXISTS (SELECT FROM " + k.parent() + " AS p WHERE (" + parentCols + ") = ("
                    + Sql.columns("m.", k.columns()) + "))";
            moves.append(" OR ((").append(changed).append(") AND (").append(deletedWith)
                    .append(" OR (x.cascaded AND ").append(oldParentGone).append(")) AND (x.cascaded OR ")
                    .append(newParentThere).append("))");
        }
        return "WITH d AS (SELECT rc.dead_row, rc.cascaded IS TRUE AS cascaded, rc.dead_xid FROM syncsqlite.row_clock AS rc "
                + "WHERE rc.tbl = ? AND rc.pk = ? AND NOT rc.alive AND rc.cascaded IS NOT FALSE AND rc.dead_row IS NOT NULL), "
                + "n AS (SELECT to_jsonb(r) AS img FROM jsonb_populate_record(NULL::" + q + ", ?::jsonb) AS r), "
                + "x AS (SELECT d.dead_row, d.cascaded, d.dead_xid, n.img, "
                + "d.dead_row || (SELECT jsonb_object_agg(k, n.img -> k) FROM unnest(?::text[]) AS k) AS merged FROM d, n) "
                + "SELECT x.merged::text, " + moves + " FROM x CROSS JOIN LATERAL jsonb_populate_record(NULL::" + q
                + ", x.dead_row) AS o CROSS JOIN LATERAL jsonb_populate_record(NULL::" + q + ", x.merged) AS m";
    }

    /**
     * Takes the table's lock shared, then one advisory lock per key in lock-key order; returns each key's
     * ordinal and canonical key ({@link Sql#clockKey}). Four statements (the table lock is three): read the fourth result.
     */
    String lockKeys() {
        return lockKeys;
    }

    /** Takes the table's lock exclusively and returns the canonical keys, locking no row (bulk transactions). */
    String lockTable() {
        return lockTable;
    }

    /** Parameter: JSON array of normalised keys. Returns the keys of the rows that exist, locked. */
    String presence() {
        return presence;
    }

    /**
     * Parameters: the node whose transaction named the keys, and a JSON array of key objects. Logs each
     * row's current image (or a delete) into {@code syncsqlite.change}, returning (pk, row, hlc).
     */
    String logCurrent() {
        return logCurrent;
    }

    /** As {@link #logCurrent}, reading only (no node parameter): returns (pk, row, hlc). */
    String readCurrent() {
        return readCurrent;
    }

    /**
     * Writes columns into a tombstone's image ({@code row_clock.dead_row}) as PostgreSQL's JSON of them.
     * Parameters: one object with key and values, the names of the columns to write, the clock's table and key.
     */
    String keepOnTombstone() {
        return "UPDATE syncsqlite.row_clock SET dead_row = dead_row || (SELECT jsonb_object_agg(k, to_jsonb(r) -> k) "
                + "FROM jsonb_populate_record(NULL::" + table.qualifiedName() + ", ?::jsonb) AS r, unnest(?::text[]) AS k) "
                + "WHERE tbl = ? AND pk = ? AND NOT alive AND dead_row IS NOT NULL";
    }

    /** Deletes rows. Parameter: JSON array of key objects. */
    String delete() {
        return delete;
    }

    /**
     * Inserts rows. Parameter: JSON array of objects with key and values; no key twice.
     *
     * @param upsert where a row exists after all, overwrite the given columns (ON CONFLICT DO UPDATE). The
     *               applier inserts only rows it read as absent, under its key locks, so a plain insert is the
     *               usual case: a direct writer creating such a key in between makes it fail with 23505, and the
     *               next attempt reads the row and merges into it by column clocks. An upsert is for a table whose
     *               row an application trigger created within the relay's own transaction, after its read
     *               (PostgresChangeApplier): it is a speculative insertion, fires the table's UPDATE triggers (an
     *               append-only table refuses them), and PostgreSQL refuses it on a deferrable key or a table with
     *               an INSERT rule.
     */
    String insert(List<String> columns, boolean upsert) {
        return inserts.computeIfAbsent((upsert ? "u\u0000" : "i\u0000") + String.join("\u0000", columns), k -> {
            List<String> pk = table.primaryKey();
            List<String> all = new java.util.ArrayList<>(pk);
            all.addAll(columns);
            String sql = "INSERT INTO " + table.qualifiedName() + " AS t (" + Sql.columns("", all) + ") "
                    + (table.identityAlways() ? "OVERRIDING SYSTEM VALUE " : "")
                    + "SELECT " + Sql.columns("r.", all) + " FROM " + records + " AS r";
            if (!upsert) {
                return sql;
            }
            // An identity column GENERATED ALWAYS takes the client's value on insert only.
            List<String> settable = columns.stream().filter(c -> !table.identityAlways(c)).toList();
            String conflict = settable.isEmpty() ? "DO NOTHING" : "DO UPDATE SET " + settable.stream()
                    .map(c -> Sql.ident(c) + " = excluded." + Sql.ident(c)).collect(Collectors.joining(", "));
            return sql + " ON CONFLICT (" + Sql.columns("", pk) + ") " + conflict;
        });
    }

    /**
     * Adds amounts to counter columns of existing rows ({@code c = coalesce(c, 0) + amount}): increments
     * from several clients commute, so they add up instead of overwriting each other. Parameter: JSON
     * array of objects with key and amounts; no key twice.
     */
    String add(List<String> columns) {
        return additions.computeIfAbsent(String.join("\u0000", columns), k -> "UPDATE " + table.qualifiedName()
                + " AS t SET " + columns.stream().map(c -> Sql.ident(c) + " = coalesce(t." + Sql.ident(c) + ", 0) + r."
                        + Sql.ident(c))
                .collect(Collectors.joining(", "))
                + " FROM " + records + " AS r WHERE " + Sql.pkEquals("t.", "r.", table.primaryKey()));
    }

    /**
     * Sets the given columns of existing rows. Parameter: JSON array of objects with key and values; no
     * key twice (UPDATE ... FROM would apply only one of them).
     */
    String update(List<String> columns) {
        return updates.computeIfAbsent(String.join("\u0000", columns), k -> "UPDATE " + table.qualifiedName()
                + " AS t SET " + columns.stream().map(c -> Sql.ident(c) + " = r." + Sql.ident(c))
                .collect(Collectors.joining(", "))
                + " FROM " + records + " AS r WHERE " + Sql.pkEquals("t.", "r.", table.primaryKey()));
    }
}
