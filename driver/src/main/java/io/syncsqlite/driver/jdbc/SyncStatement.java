package io.syncsqlite.driver.jdbc;

import io.syncsqlite.driver.sql.SchemaListing;
import io.syncsqlite.driver.sql.SqlClassifier;
import io.syncsqlite.driver.sql.SqlInfo;
import io.syncsqlite.driver.sql.StatementKind;

import java.sql.BatchUpdateException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A plain statement: every execution passes through {@link SyncConnection#run}. Batches of SQL strings
 * run as one transaction when auto-commit is on, so the whole batch is stamped once; if an entry fails, the
 * entries before it are kept, as sqlite-jdbc keeps them. A batch holding a counter statement
 * ({@code SET c = c + 1}) runs entry by entry, so that each entry's rows are marked with its amounts.
 *
 * <p>Not thread-safe, like the statement it wraps.
 */
public class SyncStatement extends DelegatingStatement {

    private final SyncConnection connection;
    private final List<Entry> batch = new ArrayList<>();
    private final GeneratedKeys keys;

    public SyncStatement(Statement delegate, SyncConnection connection) {
        super(delegate, connection);
        this.connection = connection;
        this.keys = new GeneratedKeys(connection.delegate);
    }

    /**
     * One batch entry, classified once when added.
     *
     * @param run    the SQL as it runs (integer keys filled in by {@link SyncConnection#withKeys})
     * @param deltas the amounts it adds, for a counter statement, else null
     */
    private record Entry(String run, SqlInfo info, String deltas) {
    }

    private SqlInfo info(String sql) {
        return connection.classify(sql);
    }

    /** As {@link #info}, for the calls through which sqlite-jdbc runs only the first of several statements. */
    private SqlInfo firstInfo(String sql) {
        return SqlClassifier.firstStatementOnly(connection.classify(sql), sql);
    }

    /**
     * An {@code executeUpdate}, which runs every statement of a string (sqlite-jdbc's {@code sqlite3_exec}): its
     * transaction, counter amounts written as literals, fresh integer keys for an INSERT that leaves them to SQLite,
     * the string cut after a column it adds ({@link SyncConnection#piecesAroundAdds}), and the count of the rows it
     * changed ({@link SyncConnection#directChanges}).
     */
    private <T> T run(String sql, SqlTextCall<T> call) throws SQLException {
        checkOpen();
        SqlInfo info = info(sql);
        List<String> pieces = connection.piecesAroundAdds(sql, info);
        SqlTextCall<T> counted = direct(info, sql, call);
        return run(sql, info, connection.deltas(info, null), pieces == null ? counted : s -> inPieces(pieces, counted));
    }

    /** {@code call} (an executeUpdate) with the count of {@link SyncConnection#directChanges}, as an int or a long. */
    @SuppressWarnings("unchecked")
    private <T> SqlTextCall<T> direct(SqlInfo info, String sql, SqlTextCall<T> call) {
        return s -> {
            Object[] result = new Object[1];
            long count = connection.directChanges(info, sql, () -> (Number) (result[0] = call.call(s)));
            return result[0] instanceof Integer ? (T) Integer.valueOf((int) count) : (T) Long.valueOf(count);
        };
    }

    /**
     * Runs {@code pieces} of a string one after the other, the capture following the schema after each but the
     * last ({@link SyncConnection#piecesAroundAdds}); the update count is their sum, as for the whole string.
     */
    @SuppressWarnings("unchecked")
    private <T> T inPieces(List<String> pieces, SqlTextCall<T> call) throws SQLException {
        long total = 0;
        T last = null;
        for (int i = 0; i < pieces.size(); i++) {
            last = call.call(SchemaListing.hideDriverObjects(pieces.get(i)));
            total += ((Number) last).longValue();
            if (i + 1 < pieces.size()) {
                connection.followSchemaChange();
            }
        }
        return last instanceof Integer ? (T) Integer.valueOf((int) Math.min(total, Integer.MAX_VALUE)) : (T) Long.valueOf(total);
    }

    /** As {@link #run(String, SqlTextCall)}, for an {@code execute}, which runs only the first of several statements. */
    private <T> T runFirst(String sql, SqlTextCall<T> call) throws SQLException {
        checkOpen();
        SqlInfo info = firstInfo(sql);
        return run(sql, info, connection.deltas(info, null), call);
    }

    private <T> T run(String sql, SqlInfo info, String deltas, SqlTextCall<T> call) throws SQLException {
        String run = connection.withKeys(sql, info);
        return connection.runKeyed(keys, GeneratedKeys.inserts(run), info, deltas, () -> call.call(run));
    }

    @Override
    GeneratedKeys generatedKeys() {
        return keys;
    }

    @Override
    public ResultSet executeQuery(String sql) throws SQLException {
        checkOpen();
        SqlInfo info = firstInfo(sql);
        String run = connection.withKeys(sql, info);
        return connection.runQuery(info, connection.deltas(info, null), () -> super.executeQuery(run));
    }

    @Override
    public boolean execute(String sql) throws SQLException {
        checkOpen();
        readAhead = null;
        SqlInfo info = firstInfo(sql);
        String deltas = connection.deltas(info, null);
        if (info.returning() && deltas != null && connection.autoCommitting()) {
            // A counter statement's rows are marked in its own transaction: its rows are read first (runQuery).
            String run = connection.withKeys(sql, info);
            readAhead = connection.runQuery(info, deltas, () -> super.executeQuery(run));
            return true;
        }
        return run(sql, info, deltas, s -> super.execute(s));
    }

    @Override
    public boolean execute(String sql, int autoGeneratedKeys) throws SQLException {
        return runFirst(sql, s -> super.execute(s, autoGeneratedKeys));
    }

    @Override
    public boolean execute(String sql, int[] columnIndexes) throws SQLException {
        return runFirst(sql, s -> super.execute(s, columnIndexes));
    }

    @Override
    public boolean execute(String sql, String[] columnNames) throws SQLException {
        return runFirst(sql, s -> super.execute(s, columnNames));
    }

    @Override
    public int executeUpdate(String sql) throws SQLException {
        return run(sql, s -> super.executeUpdate(s));
    }

    @Override
    public int executeUpdate(String sql, int autoGeneratedKeys) throws SQLException {
        return run(sql, s -> super.executeUpdate(s, autoGeneratedKeys));
    }

    @Override
    public int executeUpdate(String sql, int[] columnIndexes) throws SQLException {
        return run(sql, s -> super.executeUpdate(s, columnIndexes));
    }

    @Override
    public int executeUpdate(String sql, String[] columnNames) throws SQLException {
        return run(sql, s -> super.executeUpdate(s, columnNames));
    }

    @Override
    public long executeLargeUpdate(String sql) throws SQLException {
        return run(sql, s -> super.executeLargeUpdate(s));
    }

    @Override
    public long executeLargeUpdate(String sql, int autoGeneratedKeys) throws SQLException {
        return run(sql, s -> super.executeLargeUpdate(s, autoGeneratedKeys));
    }

    @Override
    public long executeLargeUpdate(String sql, int[] columnIndexes) throws SQLException {
        return run(sql, s -> super.executeLargeUpdate(s, columnIndexes));
    }

    @Override
    public long executeLargeUpdate(String sql, String[] columnNames) throws SQLException {
        return run(sql, s -> super.executeLargeUpdate(s, columnNames));
    }

    @Override
    public void addBatch(String sql) throws SQLException {
        checkOpen();
        SqlInfo info = firstInfo(sql);
        String run = connection.withKeys(sql, info);
        super.addBatch(run);
        batch.add(new Entry(run, info, connection.deltas(info, null)));
    }

    @Override
    public void clearBatch() throws SQLException {
        super.clearBatch();
        batch.clear();
    }

    @Override
    public int[] executeBatch() throws SQLException {
        checkOpen();
        try {
            if (!hasCounters() && !schemaChangeBeforeLast()) {
                return connection.runBatch(batchInfo(), saysRollback(), super::executeBatch);
            }
            return connection.runBatch(batchInfo(), false, () -> {
                long[] counts = entryByEntry();
                return Arrays.stream(counts).mapToInt(c -> (int) Math.min(c, Integer.MAX_VALUE)).toArray();
            });
        } finally {
            clearBatch();
        }
    }

    @Override
    public long[] executeLargeBatch() throws SQLException {
        checkOpen();
        try {
            return hasCounters() || schemaChangeBeforeLast() ? connection.runBatch(batchInfo(), false, this::entryByEntry)
                    : connection.runBatch(batchInfo(), saysRollback(), super::executeLargeBatch);
        } finally {
            clearBatch();
        }
    }

    private boolean saysRollback() {
        return batch.stream().anyMatch(e -> SyncConnection.saysRollback(e.run()));
    }

    private boolean hasCounters() {
        return batch.stream().anyMatch(e -> e.deltas() != null);
    }

    /**
     * Whether an entry before the last changes the schema (an {@code ALTER TABLE ... ADD COLUMN}, a CREATE TABLE):
     * run in one call, the entries after it would meet the capture triggers of before it, which leave a new
     * column's values out. Such a batch runs entry by entry, the capture following each change. Not for batches
     * with several statements in one entry (an entry runs only its first, where running it alone runs them all)
     * or transaction control (the capture is refreshed for the transaction the connection knows of).
     */
    private boolean schemaChangeBeforeLast() {
        boolean change = false;
        for (Entry e : batch) {
            StatementKind k = e.info().kind();
            if (k == StatementKind.UNKNOWN || !k.mayWrite() && k != StatementKind.READ && k != StatementKind.PRAGMA) {
                return false;
            }
            if (change) {
                return true;
            }
            change = k.changesSchema();
        }
        return false;
    }

    /**
     * Runs the batch one entry at a time, each counter entry with its amounts (a batch does not say which
     * captured rows belong to which entry). Fails as sqlite-jdbc's batch does: a BatchUpdateException with
     * the counts of the entries before the failing one.
     */
    private long[] entryByEntry() throws SQLException {
        long[] counts = new long[batch.size()];
        for (int i = 0; i < batch.size(); i++) {
            Entry e = batch.get(i);
            try {
                // Counted as sqlite-jdbc's batch counts an entry (changes()), not as executeLargeUpdate does.
                SqlCall<Long> one = () -> connection.batchEntry(() -> super.executeLargeUpdate(e.run()));
                counts[i] = e.deltas() == null ? one.call() : connection.counted(e.info(), e.deltas(), one);
                if (e.info().kind().changesSchema() && i + 1 < batch.size()) {
                    connection.followSchemaChange();
                }
            } catch (SQLException failed) {
                // As sqlite-jdbc's: the entry's number in the message, and the counts of every entry, 0 from it on.
                throw new BatchUpdateException("batch entry " + i + ": " + failed.getMessage(), failed.getSQLState(),
                        failed.getErrorCode(), Arrays.stream(counts).mapToInt(c -> (int) Math.min(c, Integer.MAX_VALUE))
                        .toArray(), failed);
            }
        }
        return counts;
    }

    /** sqlite-jdbc runs some calls on a closed statement anyway, or fails them without a SQLState. */
    private void checkOpen() throws SQLException {
        if (isClosed()) {
            throw new SQLException("statement is closed", SyncSqlState.CONNECTION_CLOSED.code());
        }
    }

    /**
     * A batch is as strong as its strongest statement; transaction control inside a batch is unknown. A batch
     * with DDL or transaction control is UNKNOWN, and then says REPLACE only when one of its entries does and
     * none manages the transaction (as for several statements in one string: SqlClassifier.severalReplace).
     */
    private SqlInfo batchInfo() {
        StatementKind kind = StatementKind.READ;
        boolean replaces = false;
        boolean control = false;
        List<SqlInfo> alters = new ArrayList<>();
        for (Entry e : batch) {
            StatementKind k = e.info().kind();
            if (k == StatementKind.ALTER_TABLE) {
                alters.add(e.info());
            }
            alters.addAll(e.info().alters());
            if (k.changesSchema() || !k.mayWrite() && k != StatementKind.READ && k != StatementKind.PRAGMA) {
                kind = StatementKind.UNKNOWN;
                control |= !k.mayWrite() || k == StatementKind.UNKNOWN && !e.info().replaces();
            } else if (k.mayWrite() && kind != StatementKind.UNKNOWN) {
                kind = StatementKind.INSERT;
            }
            replaces |= e.info().replaces();
        }
        return new SqlInfo(kind, null, null, false, java.util.List.of(), false, replaces && !control, alters);
    }
}
