package io.syncsqlite.driver.jdbc;

import io.syncsqlite.driver.sql.Counter;
import io.syncsqlite.driver.sql.KeyRewriter;
import io.syncsqlite.driver.sql.SqlInfo;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * A prepared statement, classified once when prepared: executing it costs one field read on top of
 * sqlite-jdbc, plus the transaction wrap of an auto-commit write. The application's prepared statement is
 * never re-prepared. For a counter statement ({@code SET c = c + ?}) it also remembers the numeric
 * parameters, which are the amounts added, per batch entry too (see
 * {@link SyncConnection#runCounterBatch}). An INSERT that leaves an
 * integer key to SQLite was prepared in its rewritten form, and each execution (or batch entry) binds
 * fresh keys from the node's stock after the application's parameters.
 *
 * <p>Not thread-safe, like the statement it wraps.
 */
public class SyncPreparedStatement extends DelegatingPreparedStatement {

    private final SyncConnection connection;
    private final SqlInfo info;
    /** The rewrite that adds integer keys (bound from the node's stock at each execution), or null. */
    private final KeyRewriter.KeyedInsert keyed;
    /** {sequence table, synced table} when this statement bumps the sequence of a synced table's ids. */
    private final String[] sequence;
    /** The synced table whose sequence table this statement reads, or null. */
    private final String sequenceRead;
    /** Bound values of a counter statement (the amounts it adds) or a sequence bump; {@code null} for every other statement. */
    private final Object[] parameters;
    /** Per batch entry of a counter statement, the amounts it adds (as {@link SyncConnection#deltas}). */
    private final List<String> batchDeltas = new ArrayList<>();
    private final GeneratedKeys keys;
    /** Whether sqlite-jdbc would read generated keys after each execution (the SQL starts with INSERT). */
    private final boolean inserts;

    public SyncPreparedStatement(PreparedStatement delegate, SyncConnection connection, String sql, SqlInfo info,
                                 KeyRewriter.KeyedInsert keyed) {
        super(delegate, connection, sql);
        this.connection = connection;
        this.info = info;
        this.keyed = keyed;
        this.sequence = connection.sequenceBump(sql);
        this.sequenceRead = sequence == null ? connection.sequenceRead(sql) : null;
        int max = Math.max(info.counters().stream().mapToInt(Counter::lastParameter).max().orElse(0),
                sequence == null ? 0 : 2);
        this.parameters = max > 0 ? new Object[max] : null;
        this.keys = new GeneratedKeys(connection.delegate);
        this.inserts = GeneratedKeys.inserts(sql);
    }

    private void remember(int index, Object value) {
        if (parameters != null && index >= 1 && index <= parameters.length) {
            parameters[index - 1] = value;
        }
    }

    @Override
    public void setInt(int parameterIndex, int x) throws SQLException {
        super.setInt(parameterIndex, x);
        remember(parameterIndex, x);
    }

    @Override
    public void setLong(int parameterIndex, long x) throws SQLException {
        super.setLong(parameterIndex, x);
        remember(parameterIndex, x);
    }

    @Override
    public void setShort(int parameterIndex, short x) throws SQLException {
        super.setShort(parameterIndex, x);
        remember(parameterIndex, x);
    }

    @Override
    public void setDouble(int parameterIndex, double x) throws SQLException {
        super.setDouble(parameterIndex, x);
        remember(parameterIndex, x);
    }

    @Override
    public void setFloat(int parameterIndex, float x) throws SQLException {
        super.setFloat(parameterIndex, x);
        remember(parameterIndex, x);
    }

    @Override
    public void setBigDecimal(int parameterIndex, BigDecimal x) throws SQLException {
        super.setBigDecimal(parameterIndex, x);
        remember(parameterIndex, x);
    }

    @Override
    public void setObject(int parameterIndex, Object x) throws SQLException {
        super.setObject(parameterIndex, x);
        remember(parameterIndex, x);
    }

    @Override
    public void setObject(int parameterIndex, Object x, int targetSqlType) throws SQLException {
        super.setObject(parameterIndex, x, targetSqlType);
        remember(parameterIndex, x);
    }

    @Override
    public void clearParameters() throws SQLException {
        super.clearParameters();
        if (parameters != null) {
            Arrays.fill(parameters, null);
        }
    }

    /**
     * Refuses a closed statement, binds fresh keys for the rows a rewritten INSERT inserts, and keeps a
     * sequence table it bumps in this node's ids.
     */
    private void beforeExecute() throws SQLException {
        checkOpen();
        if (sequence != null) {
            connection.keepSequenceInStock(sequence, parameters);
        }
        if (keyed != null) {
            long[] keys = connection.nextKeys(keyed, info.table());
            for (int r = 0; r < keys.length; r++) {
                super.setLong(keyed.keyParameter(r), keys[r]);
            }
        }
    }

    @Override
    public void addBatch() throws SQLException {
        beforeExecute();
        super.addBatch();
        if (!info.counters().isEmpty()) {
            batchDeltas.add(deltas());
        }
    }

    @Override
    public void clearBatch() throws SQLException {
        super.clearBatch();
        batchDeltas.clear();
    }

    private String deltas() {
        return parameters == null && info.counters().isEmpty() ? null : connection.deltas(info, parameters);
    }

    @Override
    public ResultSet executeQuery() throws SQLException {
        beforeExecute();
        if (sequenceRead != null) {
            connection.beforeSequenceRead(sequenceRead);
        }
        return connection.runQuery(info, deltas(), super::executeQuery);
    }

    @Override
    public int executeUpdate() throws SQLException {
        beforeExecute();
        return connection.runKeyed(keys, inserts, info, deltas(), super::executeUpdate);
    }

    @Override
    public long executeLargeUpdate() throws SQLException {
        beforeExecute();
        return connection.runKeyed(keys, inserts, info, deltas(), super::executeLargeUpdate);
    }

    @Override
    public boolean execute() throws SQLException {
        beforeExecute();
        readAhead = null;
        String deltas = deltas();
        if (info.returning() && deltas != null && connection.autoCommitting()) {
            // A counter statement's rows are marked in its own transaction: its rows are read first (runQuery).
            readAhead = connection.runQuery(info, deltas, super::executeQuery);
            return true;
        }
        return connection.runKeyed(keys, inserts, info, deltas, super::execute);
    }

    /** sqlite-jdbc fails calls on a closed statement without a SQLState ("statement is not executing"). */
    private void checkOpen() throws SQLException {
        if (isClosed()) {
            throw new SQLException("statement is closed", SyncSqlState.CONNECTION_CLOSED.code());
        }
    }

    @Override
    public int[] executeBatch() throws SQLException {
        checkOpen();
        if (!countsAmounts()) {
            batchDeltas.clear();
            return connection.runBatch(info, SyncConnection.saysRollback(sql), super::executeBatch);
        }
        try {
            return connection.runCounterBatch(info, new ArrayList<>(batchDeltas), super::executeBatch,
                    counts -> Arrays.stream(counts).asLongStream().toArray());
        } finally {
            batchDeltas.clear();
        }
    }

    @Override
    public long[] executeLargeBatch() throws SQLException {
        checkOpen();
        if (!countsAmounts()) {
            batchDeltas.clear();
            return connection.runBatch(info, SyncConnection.saysRollback(sql), super::executeLargeBatch);
        }
        try {
            return connection.runCounterBatch(info, new ArrayList<>(batchDeltas), super::executeLargeBatch, counts -> counts);
        } finally {
            batchDeltas.clear();
        }
    }

    /**
     * Whether the batch's captured rows are to carry amounts: a counter statement of a synced table with an amount
     * in some entry. Entries without one (an amount of zero, a column forced to last-writer-wins) are null among
     * the batch's amounts; a table that is not synced captures nothing to mark, and refused the batch before.
     */
    private boolean countsAmounts() {
        return !info.counters().isEmpty() && connection.published(info.table())
                && batchDeltas.stream().anyMatch(java.util.Objects::nonNull);
    }

    @Override
    public ResultSet executeQuery(String sql) throws SQLException {
        return connection.runQuery(connection.classify(sql), null, () -> super.executeQuery(sql));
    }

    @Override
    public boolean execute(String sql) throws SQLException {
        return connection.runKeyed(keys, GeneratedKeys.inserts(sql), connection.classify(sql), null,
                () -> super.execute(sql));
    }

    @Override
    public int executeUpdate(String sql) throws SQLException {
        return connection.runKeyed(keys, GeneratedKeys.inserts(sql), connection.classify(sql), null,
                () -> super.executeUpdate(sql));
    }

    @Override
    public long executeLargeUpdate(String sql) throws SQLException {
        return connection.runKeyed(keys, GeneratedKeys.inserts(sql), connection.classify(sql), null,
                () -> super.executeLargeUpdate(sql));
    }

    @Override
    GeneratedKeys generatedKeys() {
        return keys;
    }
}
