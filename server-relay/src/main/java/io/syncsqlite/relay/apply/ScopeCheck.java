package io.syncsqlite.relay.apply;

import io.syncsqlite.relay.feed.FeedRow;
import io.syncsqlite.relay.schema.Catalog;
import io.syncsqlite.relay.schema.Sql;
import io.syncsqlite.relay.schema.TableInfo;
import io.syncsqlite.relay.scope.Scope;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Checks a client transaction against its user's write scope, inside the apply transaction: before the
 * writes, every existing row it touches must be in scope (a user cannot update, delete or upsert over a
 * row of someone else's, even one whose key they guessed); after them, every row it touched that still
 * exists must be in scope (a user cannot write a row out of their scope, or move one out). Both checks are
 * one query per table, run by PostgreSQL on the locked rows, membership subqueries included.
 *
 * <p>The check after the writes ({@link #checkLogged}) reads this transaction's capture log rather than
 * the client's list of rows, so rows the client never named are held to the same scope: those PostgreSQL
 * changed for it ({@code ON DELETE CASCADE}, {@code SET NULL}, triggers) and parents that compensation
 * restores. Without that, deleting one's own row could delete someone else's through a cascade.
 *
 * <p>A violation raises SQLState 42501, which rejects exactly this transaction through the usual path.
 *
 * <p>Thread-safe: stateless.
 */
final class ScopeCheck {

    private ScopeCheck() {
    }

    /**
     * @param keys  per table, the canonical keys (PostgreSQL's jsonb text) of the rows the transaction touches
     * @param after false before the writes (the rows as they were), true after them
     */
    static void check(Connection c, Scope scope, Map<TableInfo, List<String>> keys, boolean after)
            throws SQLException {
        for (Map.Entry<TableInfo, List<String>> e : keys.entrySet()) {
            TableInfo t = e.getKey();
            if (!scope.writable(t.name())) {
                throw new SQLException("table " + t.name() + " is not writable for user " + scope.subject(), "42501");
            }
            Scope.Predicate p = scope.predicate(t, "t.");
            if (!p.hasParameter()) {
                continue; // every row
            }
            String q = t.qualifiedName();
            String sql = "SELECT 1 FROM " + q + " AS t JOIN "
                    + "jsonb_populate_recordset(NULL::" + q + ", ?::jsonb) AS k ON " + Sql.pkEquals("t.", "k.", t.primaryKey())
                    + " WHERE NOT coalesce(" + p.sql() + ", false) LIMIT 1";
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                ps.setString(1, "[" + String.join(",", e.getValue()) + "]");
                ps.setArray(2, c.createArrayOf("text", p.values().toArray()));
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        // No key: whether a key the client guessed is someone else's row is itself a leak.
                        throw new SQLException((after ? "the transaction would leave a row" : "a row it writes")
                                + " of table " + t.name() + (after ? " outside" : " is outside")
                                + " the write scope of user " + scope.subject(), "42501");
                    }
                }
            }
        }
    }

    /**
     * After the writes: every row this transaction changed, as its capture log records it, must be in
     * scope, in a table the user may write: rows that exist by their current values, updated rows also by
     * their values before the update, deleted rows by their previous values (the capture trigger logs the
     * previous values of scoped columns for exactly this). The messages name no key: the row may be
     * another user's.
     */
    static void checkLogged(Connection c, Scope scope, Catalog catalog) throws SQLException {
        List<String> tables = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT DISTINCT tbl FROM syncsqlite.change WHERE xid = pg_current_xact_id()");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                tables.add(rs.getString(1));
            }
        }
        for (String name : tables) {
            TableInfo t = catalog.table(name);
            if (t == null || !scope.writable(t.name())) {
                throw new SQLException("the transaction would change table " + name + ", which is not writable for"
                        + " user " + scope.subject() + " (through ON DELETE CASCADE, a trigger or a restored parent)",
                        "42501");
            }
            Scope.Predicate p = scope.predicate(t, "t.");
            if (!p.hasParameter()) {
                continue; // every row
            }
            String q = t.qualifiedName();
            String mine = " FROM syncsqlite.change AS ch WHERE ch.xid = pg_current_xact_id() AND ch.tbl = ?";
            String outside = " WHERE NOT coalesce(" + p.sql() + ", false) LIMIT 1";
            // One round trip, three tests, each naming what it found (never the key: the row may be
            // another user's, and so its key):
            // - a row the transaction wrote that now lies outside the scope;
            // - a row that lay outside the scope before the transaction: each row's first logged change, its
            //   image with the scoped values it replaced restored. An update of an existing row always logs
            //   them ('{}' if none changed; a new row logs none), so a trigger cannot take someone else's
            //   row over, even in two steps, nor can an insert that a concurrent writer's row turned into an
            //   update; a row the transaction moves out of scope and back is its own business;
            // - a deleted row, by its previous scoped values (a delete logged for a key that had no row,
            //   marked with its origin by TableStatements.logCurrent, deleted nothing).
            String sql = "(SELECT 'leave a row' FROM (SELECT DISTINCT ch.pk" + mine + " AND ch.kind = 'U') AS ch"
                    + " CROSS JOIN LATERAL jsonb_populate_record(NULL::" + q + ", ch.pk) AS k"
                    + " JOIN " + q + " AS t ON " + Sql.pkEquals("t.", "k.", t.primaryKey()) + outside + ")"
                    + " UNION ALL (SELECT 'take over a row' FROM (SELECT DISTINCT ON (ch.pk) ch.kind, ch.old,"
                    + " ch.\"row\" || ch.old AS img" + mine + " ORDER BY ch.pk, ch.id) AS ch"
                    + " CROSS JOIN LATERAL jsonb_populate_record(NULL::" + q + ", ch.img) AS t"
                    + " WHERE ch.kind = 'U' AND ch.old IS NOT NULL AND NOT coalesce(" + p.sql() + ", false) LIMIT 1)"
                    + " UNION ALL (SELECT 'delete a row' FROM (SELECT ch.old" + mine + " AND ch.kind = 'D'"
                    + " AND ch.old IS NOT NULL AND ch.old -> '" + FeedRow.NO_ROW_ORIGIN + "' IS NULL) AS ch"
                    + " CROSS JOIN LATERAL jsonb_populate_record(NULL::" + q + ", ch.old) AS t" + outside + ")"
                    + " LIMIT 1";
            java.sql.Array values = c.createArrayOf("text", p.values().toArray());
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                for (int i = 0; i < 3; i++) {
                    ps.setString(2 * i + 1, name);
                    ps.setArray(2 * i + 2, values);
                }
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        throw new SQLException("the transaction would " + rs.getString(1) + " of table " + name
                                + " outside the write scope of user " + scope.subject(), "42501");
                    }
                }
            }
        }
    }

}
