package io.syncsqlite.relay.apply;

import io.syncsqlite.relay.schema.Sql;
import io.syncsqlite.relay.schema.TableInfo;
import io.syncsqlite.relay.scope.Scope;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;

/**
 * Checks a client transaction against its user's write scope, inside the apply transaction: before the
 * writes, every existing row it touches must be in scope (a user cannot update, delete or upsert over a
 * row of someone else's, even one whose key they guessed); after them, every row it touched that still
 * exists must be in scope (a user cannot write a row out of their scope, or move one out). Both checks are
 * one query per table, run by PostgreSQL on the locked rows, membership subqueries included.
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
            String sql = "SELECT " + Sql.pkObject("t.", t.primaryKey()) + "::text FROM " + q + " AS t JOIN "
                    + "jsonb_populate_recordset(NULL::" + q + ", ?::jsonb) AS k ON " + Sql.pkEquals("t.", "k.", t.primaryKey())
                    + " WHERE NOT coalesce(" + p.sql() + ", false) LIMIT 1";
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                ps.setString(1, "[" + String.join(",", e.getValue()) + "]");
                ps.setArray(2, c.createArrayOf("text", p.values().toArray()));
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        throw new SQLException((after ? "the transaction would leave row " : "row ") + rs.getString(1)
                                + " of table " + t.name() + (after ? " outside" : " is outside")
                                + " the write scope of user " + scope.subject(), "42501");
                    }
                }
            }
        }
    }
}
