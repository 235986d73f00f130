package io.syncsqlite.relay.apply;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncsqlite.protocol.JsonTrees;
import io.syncsqlite.protocol.MessageCodec;
import io.syncsqlite.relay.schema.Catalog;
import io.syncsqlite.relay.schema.ColumnInfo;
import io.syncsqlite.relay.schema.Sql;
import io.syncsqlite.relay.scope.Scope;
import io.syncsqlite.relay.schema.TableInfo;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * Referential-integrity compensation: when a client's insert or update refers to a parent row that was
 * deleted concurrently (PostgreSQL answers 23503), the parent comes back, with the last image its tombstone
 * keeps ({@code row_clock.dead_row}; for tombstones older than that column, the change log's), instead of
 * the child being refused. That is the answer of ElectricSQL's active-active
 * design: a player enrolled offline in a tournament someone deleted meanwhile keeps the tournament.
 *
 * <p>Only parents that existed and were deleted (a tombstone in {@code row_clock}) are restored; a key that
 * never existed is a genuine error and the transaction is rejected. The restoration is its own committed
 * PostgreSQL transaction, logged in the feed like any write, so every client gets the parent back before
 * the child (commit order). Ancestors deleted with the parent (a cascade) come back first when the parent's
 * image refers to them; other rows the delete removed by cascade (the parent's other children) are not
 * restored.
 *
 * <p>Stateless; thread-safe.
 */
final class Compensation {

    /**
     * The columns of foreign key {@code con} (a {@code pg_constraint} row), as two name arrays in key order:
     * the referring table's, then the referenced table's.
     */
    static final String FOREIGN_KEY_COLUMNS = """
                   (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY AS k(att, ord)
                      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.att),
                   (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(con.confkey) WITH ORDINALITY AS k(att, ord)
                      JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.att)
            """;

    private static final String FOREIGN_KEY = "SELECT pn.nspname, pc.relname, " + FOREIGN_KEY_COLUMNS + """
            FROM pg_constraint con
            JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
            JOIN pg_class pc ON pc.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
            WHERE con.contype = 'f' AND con.conname = ? AND cn.nspname = ? AND cc.relname = ?""";

    private Compensation() {
    }

    /**
     * Restores the deleted parents that {@code ops} refer to through the foreign key named in
     * {@code violation}, in a transaction of its own on {@code c} (which must have no transaction open).
     *
     * @return whether anything was restored (then the client transaction is worth another attempt)
     */
    static boolean restoreParents(Connection c, Catalog catalog, SQLException violation, List<Op> ops, long hlc,
                                  Scope scope) throws SQLException {
        List<Row> rows = new ArrayList<>();
        for (Op op : ops) {
            ObjectNode values = op.pk().deepCopy();
            values.setAll(op.values());
            rows.add(new Row(op.table().name(), values));
        }
        return restore(c, catalog, violation, rows, hlc, scope, 0);
    }

    /** A row that refers to a parent: its table and its column values (the key among them). */
    private record Row(String table, ObjectNode values) {
    }

    /** How many levels of deleted ancestors one restore brings back (a chain of cascaded deletes). */
    private static final int MAX_DEPTH = 8;

    /**
     * Restores the parents {@code rows} refer to through the violated foreign key. When a parent's own
     * image refers to a deleted row in turn (its delete cascaded from a grandparent: PostgreSQL answers the
     * restore with 23503 too), that ancestor is restored first, in a transaction of its own, and the parent
     * again after it.
     */
    private static boolean restore(Connection c, Catalog catalog, SQLException violation, List<Row> rows, long hlc,
                                   Scope scope, int depth) throws SQLException {
        if (!(violation instanceof PSQLException pe) || pe.getServerErrorMessage() == null) {
            return false;
        }
        ServerErrorMessage m = pe.getServerErrorMessage();
        if (m.getConstraint() == null || m.getTable() == null || m.getSchema() == null) {
            return false;
        }
        String parentName;
        List<String> childCols = new ArrayList<>();
        List<String> parentCols = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(FOREIGN_KEY)) {
            ps.setString(1, m.getConstraint());
            ps.setString(2, m.getSchema());
            ps.setString(3, m.getTable());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    c.rollback();
                    return false;
                }
                parentName = rs.getString(2);
                for (Object o : (Object[]) rs.getArray(3).getArray()) {
                    childCols.add((String) o);
                }
                for (Object o : (Object[]) rs.getArray(4).getArray()) {
                    parentCols.add((String) o);
                }
            }
        }
        TableInfo parent = catalog.table(parentName);
        if (parent == null || !parentCols.equals(parent.primaryKey())) {
            // Only keys of synced parents have history to restore from.
            c.rollback();
            return false;
        }
        List<String> keys = new ArrayList<>();
        for (Row row : rows) {
            if (!row.table().equals(m.getTable())) {
                continue;
            }
            ObjectNode key = MessageCodec.JSON.createObjectNode();
            for (int i = 0; i < childCols.size(); i++) {
                var v = row.values().get(childCols.get(i));
                if (v == null || v.isNull()) {
                    key = null;
                    break;
                }
                key.set(parentCols.get(i), v);
            }
            if (key != null) {
                keys.add(key.toString());
            }
        }
        if (keys.isEmpty()) {
            c.rollback();
            return false;
        }
        String q = parent.qualifiedName();
        String pkOf = Sql.pkObject("k.", parent.primaryKey());
        List<String> writable = parent.columns().stream().filter(col -> !col.generated()).map(ColumnInfo::name).toList();
        // For each referenced key: absent from the table, tombstoned, and with a last image.
        String images = "WITH wanted AS (SELECT DISTINCT " + pkOf + " AS pk, " + Sql.clockKey("k.", parent)
                + " AS ck FROM jsonb_populate_recordset(NULL::" + q + ", ?::jsonb) AS k), "
                + "dead AS (SELECT w.pk, w.ck, rc.dead_row FROM wanted w JOIN syncsqlite.row_clock rc ON rc.tbl = "
                + Sql.literal(parent.name()) + " AND rc.pk = w.ck AND NOT rc.alive), "
                // The tombstone's image; a tombstone from before row_clock.dead_row has its image in the log
                // only, found by a scan (the log has no index by key), which runs for such keys alone.
                + "images AS (SELECT d.ck, coalesce(d.dead_row, (SELECT ch.\"row\" FROM syncsqlite.change ch"
                + " WHERE ch.tbl = " + Sql.literal(parent.name()) + " AND ch.pk = d.pk AND ch.kind = 'U'"
                + " ORDER BY ch.id DESC LIMIT 1)) AS \"row\" FROM dead d)";
        String restore = images + ", "
                // Insert first and revive only the clocks of rows inserted: an image that does not fit any more
                // (another row took its unique value) must leave its tombstone and image as they were. The
                // columns PostgreSQL computes are left out, as in the relay's own inserts.
                + "inserted AS (INSERT INTO " + q + " AS t (" + Sql.columns("", writable) + ") "
                + (parent.identityAlways() ? "OVERRIDING SYSTEM VALUE " : "")
                + "SELECT " + Sql.columns("r.", writable) + " FROM images i CROSS JOIN LATERAL jsonb_populate_record(NULL::"
                + q + ", i.\"row\") AS r WHERE i.\"row\" IS NOT NULL ON CONFLICT DO NOTHING RETURNING "
                + Sql.clockKey("t.", parent) + " AS ck) "
                + "UPDATE syncsqlite.row_clock rc SET alive = true, alive_hlc = greatest(rc.alive_hlc + 1, ?),"
                + " alive_node = '~compensation', dead_row = NULL, born = pg_current_xact_id(), born_node = '~compensation'"
                + " FROM inserted i WHERE rc.tbl = " + Sql.literal(parent.name())
                + " AND rc.pk = i.ck";
        int restored;
        try (PreparedStatement set = c.prepareStatement(
                "SELECT set_config('syncsqlite.hlc', ?, true), set_config('syncsqlite.node', '~compensation', true)")) {
            set.setString(1, Long.toString(hlc));
            set.execute();
        }
        try (PreparedStatement ps = c.prepareStatement(restore)) {
            ps.setString(1, "[" + String.join(",", keys) + "]");
            ps.setLong(2, hlc);
            restored = ps.executeUpdate();
        } catch (SQLException e) {
            c.rollback();
            if (!"23503".equals(e.getSQLState()) || depth >= MAX_DEPTH) {
                throw e;
            }
            // A parent's image refers to a row deleted with it (a cascade from further up): that one first.
            List<Row> parents = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(images + " SELECT \"row\"::text FROM images WHERE \"row\" IS NOT NULL")) {
                ps.setString(1, "[" + String.join(",", keys) + "]");
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        parents.add(new Row(parent.name(), JsonTrees.row(rs.getString(1))));
                    }
                }
            } catch (com.fasterxml.jackson.core.JsonProcessingException bad) {
                throw new SQLException("unreadable tombstone image of " + parent.name(), "XX000", bad);
            }
            c.rollback();
            if (!restore(c, catalog, e, parents, hlc, scope, depth + 1)) {
                return false;
            }
            return restore(c, catalog, violation, rows, hlc, scope, depth + 1);
        }
        if (restored == 0) {
            // Nothing to restore, but a parent may have been created meanwhile (the restore waited for its
            // writer): then the transaction is worth another attempt rather than a rejection.
            boolean present;
            try (PreparedStatement ps = c.prepareStatement("SELECT EXISTS (SELECT 1 FROM jsonb_populate_recordset(NULL::"
                    + q + ", ?::jsonb) AS k JOIN " + q + " AS p ON " + Sql.pkEquals("p.", "k.", parent.primaryKey()) + ")")) {
                ps.setString(1, "[" + String.join(",", keys) + "]");
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    present = rs.getBoolean(1);
                }
            }
            c.rollback();
            return present;
        }
        if (scope != null) {
            // A user may bring back only parents they could have written: otherwise the foreign key stands
            // and the transaction is rejected (ScopeCheck throws 42501, which the caller takes as "no").
            ScopeCheck.checkLogged(c, scope, catalog);
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT syncsqlite.commit_mark()")) {
            ps.execute();
        }
        c.commit();
        return true;
    }
}
