package io.syncsqlite.relay.apply;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.HashSet;
import java.util.Set;

/**
 * Turns a sequence of row writes into few statements: consecutive writes with the same SQL (same table,
 * kind and columns) and distinct rows become one statement over a JSON array of rows. Order is kept: a
 * write with other SQL, or to a row already in the current run, first executes the run.
 *
 * <p>Not thread-safe: belongs to one transaction attempt.
 */
final class RunWriter {

    private final Connection c;
    private final StringBuilder rows = new StringBuilder();
    private final Set<TxRun.RowKey> keys = new HashSet<>();
    private String sql;

    RunWriter(Connection c) {
        this.c = c;
    }

    /** Queues one row ({@code json}, an object) for {@code sql}, which takes a JSON array of them. */
    void add(String sql, TxRun.RowKey key, String json) throws SQLException {
        if (this.sql != null && (!sql.equals(this.sql) || keys.contains(key))) {
            flush();
        }
        this.sql = sql;
        keys.add(key);
        rows.append(rows.length() == 0 ? '[' : ',').append(json);
    }

    void flush() throws SQLException {
        if (sql == null) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, rows.append(']').toString());
            ps.execute();
        } finally {
            sql = null;
            rows.setLength(0);
            keys.clear();
        }
    }
}
