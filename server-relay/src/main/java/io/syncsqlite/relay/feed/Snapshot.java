package io.syncsqlite.relay.feed;

import io.syncsqlite.relay.schema.Catalog;
import io.syncsqlite.relay.schema.Sql;
import io.syncsqlite.relay.schema.TableInfo;
import io.syncsqlite.relay.scope.Scope;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Every row of every synced table as of one feed position, read in batches for a new client.
 *
 * <p>Why it is gap-free: the snapshot is one REPEATABLE READ transaction, and its first statement reads
 * {@code M = max(seq)} of {@code commit_log}. Every transaction that wrote a synced table inserted its
 * commit_log row in that same transaction (the deferred trigger), so the snapshot sees a transaction's
 * rows exactly when it sees its seq. It sees M, and because {@code commit_mark()} holds its lock from
 * drawing a seq until the commit is visible, every seq below M was visible before M was drawn, so the
 * snapshot sees all of them too; it sees no seq above M. The rows are therefore exactly the state after
 * commit M, and streaming {@code seq > M} afterwards neither skips nor repeats a commit.
 *
 * <p>Tables are read parents first, so a child row never arrives before its parent. With a user's scope,
 * only the tables it shows and the rows it holds are read (its conditions evaluated by PostgreSQL in the
 * same snapshot, membership subqueries included).
 *
 * <p>Not thread-safe: owned by one session and used on its lane only. Holds its connection until
 * {@link #close()}, which ends the transaction and hands the connection back (to {@link ChangeFeed}'s
 * snapshot connections).
 */
public final class Snapshot implements AutoCloseable {

    private final Connection c;
    private final List<TableInfo> tables;
    /** Per table (same order), the scope's condition on its rows, or null for every row. */
    private final List<Scope.Predicate> filters;
    /** Takes the connection back once the snapshot is done: {@code true} if it failed and must not be reused. */
    private final Consumer<Boolean> onClose;
    private final long through;
    private final long total;
    private int tableIndex = -1;
    private PreparedStatement ps;
    private ResultSet rs;
    private boolean exhausted;
    private boolean closed;

    private Snapshot(Connection c, List<TableInfo> tables, List<Scope.Predicate> filters, Scope scope,
                     Consumer<Boolean> onClose) throws SQLException {
        this.c = c;
        this.tables = tables;
        this.filters = filters;
        this.onClose = onClose;
        c.setAutoCommit(false);
        c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        c.setReadOnly(true);
        try (Statement st = c.createStatement();
             ResultSet r = st.executeQuery("SELECT coalesce(max(seq), 0) FROM syncsqlite.commit_log")) {
            r.next();
            this.through = r.getLong(1);
        }
        if (scope != null) {
            // In this transaction: the memberships the snapshot's rows were chosen by, as of `through`;
            // any later change to them comes through the feed after it.
            scope.reloadMemberships(c);
        }
        this.total = count();
    }

    /**
     * Begins a snapshot on {@code c} (auto-commit off, no transaction open). On failure the caller still
     * owns the connection; otherwise {@code onClose} receives it back, with whether it broke.
     *
     * @param scope the user's scope: only the rows it holds, of the tables it shows; null for every row
     */
    static Snapshot open(Connection c, Catalog catalog, Scope scope, Consumer<Boolean> onClose)
            throws SQLException {
        List<TableInfo> tables = new ArrayList<>();
        List<Scope.Predicate> filters = new ArrayList<>();
        for (TableInfo t : catalog.tables()) {
            Scope.Predicate p = scope == null ? null : scope.predicate(t, "t.");
            if (scope == null || p != null) {
                tables.add(t);
                filters.add(p);
            }
        }
        return new Snapshot(c, tables, filters, scope, onClose);
    }

    /** The feed position the snapshot reflects; streaming continues after it. */
    public long through() {
        return through;
    }

    /** The number of rows in the snapshot. */
    public long total() {
        return total;
    }

    /** True once {@link #next} has returned the last rows. */
    public boolean exhausted() {
        return exhausted;
    }

    /** The next encoded entries (seq 0), at most {@code maxEntries} or about {@code maxBytes}. */
    public List<String> next(int maxEntries, long maxBytes) throws SQLException {
        List<String> out = new ArrayList<>();
        long bytes = 0;
        while (out.size() < maxEntries && bytes < maxBytes && !exhausted) {
            if (rs == null && !openNextTable()) {
                exhausted = true;
                break;
            }
            if (!rs.next()) {
                closeTable();
                continue;
            }
            String entry = FeedJson.entry(0, tables.get(tableIndex).name(), rs.getString(1), rs.getString(2),
                    rs.getLong(3));
            out.add(entry);
            bytes += entry.length();
        }
        return out;
    }

    private boolean openNextTable() throws SQLException {
        if (++tableIndex >= tables.size()) {
            return false;
        }
        TableInfo t = tables.get(tableIndex);
        String pk = Sql.pkObject("t.", t.primaryKey()) + "::text";
        String clockKey = Sql.clockKey("t.", t);
        // Each row's key text is built once, in a subquery the planner keeps apart (OFFSET 0): joined on an
        // expression, it was built again for the join, a fifth of PostgreSQL's time for a snapshot's row. Only a
        // numeric key needs a clock key of its own (trimmed of trailing zeros, Sql.clockKey).
        boolean same = clockKey.equals(pk);
        ps = c.prepareStatement("SELECT s.k, s.r, coalesce(" + Sql.rowHlc("rc", t) + ", 0) FROM (SELECT " + pk + " AS k, "
                + (same ? "" : clockKey + " AS ck, ") + "to_jsonb(t.*)::text AS r FROM " + t.qualifiedName() + " AS t"
                + where(filters.get(tableIndex)) + " OFFSET 0) AS s "
                + "LEFT JOIN syncsqlite.row_clock AS rc ON rc.tbl = " + Sql.literal(t.name()) + " AND rc.pk = s." + (same ? "k" : "ck"));
        bind(ps, 1, filters.get(tableIndex));
        // With auto-commit off, pgjdbc fetches through a cursor: a big table never sits in memory whole.
        ps.setFetchSize(1000);
        rs = ps.executeQuery();
        return true;
    }

    /** Closes the current table's result and statement, if any (a statement whose query failed has none). */
    private void closeTable() throws SQLException {
        try {
            if (rs != null) {
                rs.close();
            }
        } finally {
            rs = null;
            if (ps != null) {
                ps.close();
                ps = null;
            }
        }
    }

    private long count() throws SQLException {
        if (tables.isEmpty()) {
            return 0;
        }
        StringBuilder sql = new StringBuilder("SELECT 0");
        for (int i = 0; i < tables.size(); i++) {
            sql.append(" + (SELECT count(*) FROM ").append(tables.get(i).qualifiedName()).append(" AS t")
                    .append(where(filters.get(i))).append(')');
        }
        try (PreparedStatement st = c.prepareStatement(sql.toString())) {
            int index = 1;
            for (Scope.Predicate p : filters) {
                index = bind(st, index, p);
            }
            try (ResultSet r = st.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        }
    }

    private static String where(Scope.Predicate p) {
        return p == null ? "" : " WHERE coalesce(" + p.sql() + ", false)";
    }

    /** Binds the predicate's parameter, if it has one, at {@code index}; returns the next index. */
    private int bind(PreparedStatement ps, int index, Scope.Predicate p) throws SQLException {
        if (p == null || !p.hasParameter()) {
            return index;
        }
        ps.setArray(index, c.createArrayOf("text", p.values().toArray()));
        return index + 1;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        boolean broken = true; // not reused unless its transaction is known to be over
        try {
            closeTable();
            c.rollback();
            broken = false;
        } catch (SQLException | RuntimeException e) {
            // handed back broken: closed, not reused
        } finally {
            onClose.accept(broken);
        }
    }
}
