package io.syncsqlite.relay.apply;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns a sequence of row writes into few statements: writes with the same SQL (same table, kind and
 * columns) to distinct rows become one statement over a JSON array of rows.
 *
 * <p>Why regroup, not only join consecutive writes: an application that, in one transaction, updates one
 * row and inserts another for each item (an order and its line, a record and its audit row) alternates
 * shapes, and consecutive-only batching then costs one statement, one round trip, per row (measured: 37 s
 * instead of 6 s for 20k such changes, docs/BENCHMARKS.md). Inserts and updates of distinct rows end in the
 * same state in any order, unless a constraint sees the intermediate state; so between two barriers they
 * are grouped by SQL and executed parents first (table rank), then in order of first appearance. Barriers
 * keep everything where order can matter: a row written twice, and deletes (which may cascade), which are
 * never moved. A constraint that does see the new order (a unique value moved from one row to another, a
 * foreign key within one table) makes the statement fail; the applier then runs the transaction again in
 * the original order ({@code inOrder}), so the outcome is always that of the original order.
 *
 * <p>Not thread-safe: belongs to one transaction attempt.
 */
final class RunWriter {

    private record Write(String sql, TxRun.RowKey key, String json, int rank, boolean barrier) {
    }

    private final Connection c;
    private final boolean inOrder;
    private final List<Write> pending = new ArrayList<>();
    private final Set<TxRun.RowKey> keys = new HashSet<>();
    private final Set<TxRun.RowKey> shortOf = new HashSet<>();
    private boolean reordered;

    /** @param inOrder execute writes strictly in the order given (only consecutive ones are joined) */
    RunWriter(Connection c, boolean inOrder) {
        this.c = c;
        this.inOrder = inOrder;
    }

    /**
     * Queues one row ({@code json}, an object) for {@code sql}, which takes a JSON array of them.
     *
     * @param rank    the table's place in parents-first order
     * @param barrier a write that is never moved (a delete)
     */
    void add(String sql, TxRun.RowKey key, String json, int rank, boolean barrier) throws SQLException {
        if (keys.contains(key)) {
            flush();
        } else if (!pending.isEmpty()) {
            Write last = pending.get(pending.size() - 1);
            if (barrier != last.barrier() || barrier && !sql.equals(last.sql())) {
                flush();
            }
        }
        pending.add(new Write(sql, key, json, rank, barrier));
        keys.add(key);
    }

    /**
     * The rows of every statement that changed fewer rows than it was given. PostgreSQL skips a row without an
     * error when a BEFORE trigger returns NULL, or a rule or a row security policy keeps it out: nothing is
     * captured for it, so the writing client must be sent the row's current state (TxRun.logUntouchedRows), or it
     * keeps its own value for good (PgSideReviewTest). Which of a statement's rows were skipped is not told; all
     * of them are named, and sending a client the state it has costs only the message.
     */
    Set<TxRun.RowKey> shortOf() {
        return shortOf;
    }

    /** Whether any flush executed writes in another order than they were queued. */
    boolean reordered() {
        return reordered;
    }

    void flush() throws SQLException {
        if (pending.isEmpty()) {
            return;
        }
        try {
            List<List<Write>> runs = consecutiveRuns();
            if (!inOrder && runs.size() > 1) {
                List<List<Write>> groups = groups();
                if (groups.size() < runs.size()) {
                    reordered = true;
                    runs = groups;
                }
            }
            for (List<Write> run : runs) {
                execute(run);
            }
        } finally {
            pending.clear();
            keys.clear();
        }
    }

    private List<List<Write>> consecutiveRuns() {
        List<List<Write>> runs = new ArrayList<>();
        List<Write> current = null;
        for (Write w : pending) {
            if (current == null || !current.get(0).sql().equals(w.sql())) {
                current = new ArrayList<>();
                runs.add(current);
            }
            current.add(w);
        }
        return runs;
    }

    /** One group per SQL, parents first, then by first appearance (LinkedHashMap order, stable sort). */
    private List<List<Write>> groups() {
        Map<String, List<Write>> bySql = new LinkedHashMap<>();
        for (Write w : pending) {
            bySql.computeIfAbsent(w.sql(), k -> new ArrayList<>()).add(w);
        }
        List<List<Write>> groups = new ArrayList<>(bySql.values());
        groups.sort(Comparator.comparingInt(g -> g.get(0).rank()));
        return groups;
    }

    private void execute(List<Write> run) throws SQLException {
        StringBuilder rows = new StringBuilder();
        for (Write w : run) {
            rows.append(rows.length() == 0 ? '[' : ',').append(w.json());
        }
        try (PreparedStatement ps = c.prepareStatement(run.get(0).sql())) {
            ps.setString(1, rows.append(']').toString());
            if (ps.executeUpdate() < run.size()) {
                for (Write w : run) {
                    shortOf.add(w.key());
                }
            }
        }
    }
}
