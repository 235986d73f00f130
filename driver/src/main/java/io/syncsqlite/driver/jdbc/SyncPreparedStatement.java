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
import java.sql.Types;

/**
 * A prepared statement, classified once when prepared: executing it costs one field read on top of
 * sqlite-jdbc, plus the transaction wrap of an auto-commit write. The application's prepared statement is
 * never re-prepared. For a counter statement ({@code SET c = c + ?}) it also remembers the numeric
 * parameters, which are the amounts added, per batch entry too, and how every parameter was bound, so that a
 * batch can run entry by entry (see {@link SyncConnection#runCounterBatch}). An INSERT that leaves an
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
    /**
     * Whether each parameter up to the last that holds a key ({@code coalesce(?n, slot)}, KeyRewriter) is bound to a
     * value, by any setter: the driver supplies a key only for one bound NULL or not at all. Null without such.
     */
    private final boolean[] keyBound;
    /** Per batch entry of a counter statement, the amounts it adds (as {@link SyncConnection#deltas}). */
    private final List<String> batchDeltas = new ArrayList<>();
    /**
     * For a counter statement, how each parameter was last bound ({@code null}: not yet; {@link #UNKNOWN}: by a
     * setter whose value cannot be bound again, a stream or a LOB), so that its batch can run entry by entry;
     * {@code null} for every other statement.
     */
    private final Binder[] binds;
    /** Per batch entry of a counter statement, its bindings (a copy of {@link #binds}). */
    private final List<Binder[]> batchBinds = new ArrayList<>();
    /** The statement this one wraps, to bind and run a counter batch's entries on. */
    private final PreparedStatement raw;
    private final GeneratedKeys keys;
    /** Whether sqlite-jdbc would read generated keys after each execution (the SQL starts with INSERT). */
    private final boolean inserts;

    /** Binds one parameter's value again, on the statement this one wraps. */
    @FunctionalInterface
    private interface Binder {
        void bind(PreparedStatement ps) throws SQLException;
    }

    private static final Binder UNKNOWN = ps -> {
        throw new IllegalStateException("a parameter bound by a stream or a LOB cannot be bound again");
    };

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
        int guards = keyed == null ? 0 : keyed.guards().stream().mapToInt(Integer::intValue).max().orElse(0);
        this.keyBound = guards > 0 ? new boolean[guards] : null;
        this.parameters = max > 0 ? new Object[max] : null;
        this.keys = new GeneratedKeys(connection.delegate);
        this.inserts = GeneratedKeys.inserts(sql);
        this.raw = delegate;
        this.binds = info.counters().isEmpty() ? null : parameters(delegate);
    }

    /** A slot per parameter of {@code ps}; {@code null} when sqlite-jdbc cannot say how many (never seen). */
    private static Binder[] parameters(PreparedStatement ps) {
        try {
            return new Binder[ps.getParameterMetaData().getParameterCount()];
        } catch (SQLException e) {
            return null; // its batches are then run by sqlite-jdbc (SyncConnection.runCounterBatch)
        }
    }

    @Override
    protected void bound(int parameterIndex, boolean isNull) {
        // Until the setter, if it is one that records its value, says otherwise: no amount (a NULL, a string, a
        // stream), or the previous entry's amount would be taken for this one's.
        remember(parameterIndex, null);
        if (keyBound != null && parameterIndex >= 1 && parameterIndex <= keyBound.length) {
            keyBound[parameterIndex - 1] = !isNull;
        }
        if (binds != null && parameterIndex >= 1 && parameterIndex <= binds.length) {
            binds[parameterIndex - 1] = UNKNOWN; // and no way to bind it again
        }
    }

    /** Records how parameter {@code index} was bound; only called when {@link #binds} is not null. */
    private void binds(int index, Binder binder) {
        if (index >= 1 && index <= binds.length) {
            binds[index - 1] = binder;
        }
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
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setInt(parameterIndex, x));
        }
    }

    @Override
    public void setLong(int parameterIndex, long x) throws SQLException {
        super.setLong(parameterIndex, x);
        remember(parameterIndex, x);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setLong(parameterIndex, x));
        }
    }

    @Override
    public void setShort(int parameterIndex, short x) throws SQLException {
        super.setShort(parameterIndex, x);
        remember(parameterIndex, x);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setShort(parameterIndex, x));
        }
    }

    @Override
    public void setDouble(int parameterIndex, double x) throws SQLException {
        super.setDouble(parameterIndex, x);
        remember(parameterIndex, x);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setDouble(parameterIndex, x));
        }
    }

    @Override
    public void setFloat(int parameterIndex, float x) throws SQLException {
        super.setFloat(parameterIndex, x);
        remember(parameterIndex, x);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setFloat(parameterIndex, x));
        }
    }

    @Override
    public void setBigDecimal(int parameterIndex, BigDecimal x) throws SQLException {
        super.setBigDecimal(parameterIndex, x);
        remember(parameterIndex, x);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setBigDecimal(parameterIndex, x));
        }
    }

    @Override
    public void setObject(int parameterIndex, Object x) throws SQLException {
        super.setObject(parameterIndex, x);
        remember(parameterIndex, x);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setObject(parameterIndex, x));
        }
    }

    @Override
    public void setObject(int parameterIndex, Object x, int targetSqlType) throws SQLException {
        super.setObject(parameterIndex, x, targetSqlType);
        remember(parameterIndex, x);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setObject(parameterIndex, x, targetSqlType));
        }
    }

    @Override
    public void setNull(int parameterIndex, int sqlType) throws SQLException {
        super.setNull(parameterIndex, sqlType);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setNull(parameterIndex, sqlType));
        }
    }

    @Override
    public void setNull(int parameterIndex, int sqlType, String typeName) throws SQLException {
        super.setNull(parameterIndex, sqlType, typeName);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setNull(parameterIndex, sqlType, typeName));
        }
    }

    @Override
    public void setBoolean(int parameterIndex, boolean x) throws SQLException {
        super.setBoolean(parameterIndex, x);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setBoolean(parameterIndex, x));
        }
    }

    @Override
    public void setByte(int parameterIndex, byte x) throws SQLException {
        super.setByte(parameterIndex, x);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setByte(parameterIndex, x));
        }
    }

    @Override
    public void setString(int parameterIndex, String x) throws SQLException {
        super.setString(parameterIndex, x);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setString(parameterIndex, x));
        }
    }

    @Override
    public void setNString(int parameterIndex, String x) throws SQLException {
        super.setNString(parameterIndex, x);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setNString(parameterIndex, x));
        }
    }

    @Override
    public void setBytes(int parameterIndex, byte[] x) throws SQLException {
        super.setBytes(parameterIndex, x);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setBytes(parameterIndex, x)); // the same array, as sqlite-jdbc's batch keeps it
        }
    }

    @Override
    public void setDate(int parameterIndex, java.sql.Date x) throws SQLException {
        super.setDate(parameterIndex, x);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setDate(parameterIndex, x));
        }
    }

    @Override
    public void setDate(int parameterIndex, java.sql.Date x, java.util.Calendar cal) throws SQLException {
        super.setDate(parameterIndex, x, cal);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setDate(parameterIndex, x, cal));
        }
    }

    @Override
    public void setTime(int parameterIndex, java.sql.Time x) throws SQLException {
        super.setTime(parameterIndex, x);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setTime(parameterIndex, x));
        }
    }

    @Override
    public void setTime(int parameterIndex, java.sql.Time x, java.util.Calendar cal) throws SQLException {
        super.setTime(parameterIndex, x, cal);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setTime(parameterIndex, x, cal));
        }
    }

    @Override
    public void setTimestamp(int parameterIndex, java.sql.Timestamp x) throws SQLException {
        super.setTimestamp(parameterIndex, x);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setTimestamp(parameterIndex, x));
        }
    }

    @Override
    public void setTimestamp(int parameterIndex, java.sql.Timestamp x, java.util.Calendar cal) throws SQLException {
        super.setTimestamp(parameterIndex, x, cal);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setTimestamp(parameterIndex, x, cal));
        }
    }

    @Override
    public void setObject(int parameterIndex, Object x, int targetSqlType, int scaleOrLength) throws SQLException {
        super.setObject(parameterIndex, x, targetSqlType, scaleOrLength);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setObject(parameterIndex, x, targetSqlType, scaleOrLength));
        }
    }

    @Override
    public void setObject(int parameterIndex, Object x, java.sql.SQLType targetSqlType) throws SQLException {
        super.setObject(parameterIndex, x, targetSqlType);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setObject(parameterIndex, x, targetSqlType));
        }
    }

    @Override
    public void setObject(int parameterIndex, Object x, java.sql.SQLType targetSqlType, int scaleOrLength) throws SQLException {
        super.setObject(parameterIndex, x, targetSqlType, scaleOrLength);
        if (binds != null) {
            binds(parameterIndex, ps -> ps.setObject(parameterIndex, x, targetSqlType, scaleOrLength));
        }
    }

    @Override
    public void clearParameters() throws SQLException {
        super.clearParameters();
        if (parameters != null) {
            Arrays.fill(parameters, null);
        }
        if (keyBound != null) {
            Arrays.fill(keyBound, false);
        }
        if (binds != null) {
            Arrays.fill(binds, null);
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
            for (int r = 0; r < keyed.keys(); r++) {
                int parameter = keyed.keyParameter(r);
                int guard = keyed.guard(r);
                if (guard > 0 && keyBound[guard - 1]) {
                    // The application bound the key itself: coalesce(?guard, ?parameter) takes it, no stock key used.
                    super.setNull(parameter, Types.BIGINT);
                    if (binds != null) {
                        binds(parameter, ps -> ps.setNull(parameter, Types.BIGINT));
                    }
                    continue;
                }
                long key = connection.nextKey(info.table());
                super.setLong(parameter, key);
                if (binds != null) {
                    binds(parameter, ps -> ps.setLong(parameter, key));
                }
            }
        }
    }

    @Override
    public void addBatch() throws SQLException {
        beforeExecute();
        super.addBatch();
        if (!info.counters().isEmpty()) {
            batchDeltas.add(deltas());
            if (binds != null) {
                batchBinds.add(binds.clone());
            }
        }
    }

    @Override
    public void clearBatch() throws SQLException {
        super.clearBatch();
        batchDeltas.clear();
        batchBinds.clear();
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

    /**
     * sqlite-jdbc's batch leaves no parameter bound after it: neither do the amounts and bindings kept here, nor the
     * entry-by-entry run of a counter batch, which bound the last entry's values on the wrapped statement.
     */
    private void afterBatch() throws SQLException {
        batchDeltas.clear();
        batchBinds.clear();
        if (parameters != null) {
            Arrays.fill(parameters, null);
        }
        if (keyBound != null) {
            Arrays.fill(keyBound, false);
        }
        if (binds != null) {
            Arrays.fill(binds, null);
            raw.clearParameters();
        }
    }

    @Override
    public int[] executeBatch() throws SQLException {
        checkOpen();
        try {
            if (!countsAmounts()) {
                return connection.runBatch(info, SyncConnection.saysRollback(sql), super::executeBatch);
            }
            return connection.runCounterBatch(info, new ArrayList<>(batchDeltas), super::executeBatch,
                    counts -> Arrays.stream(counts).asLongStream().toArray(),
                    counts -> Arrays.stream(counts).mapToInt(c -> (int) Math.min(c, Integer.MAX_VALUE)).toArray(),
                    oneByOne());
        } finally {
            afterBatch();
        }
    }

    @Override
    public long[] executeLargeBatch() throws SQLException {
        checkOpen();
        try {
            if (!countsAmounts()) {
                return connection.runBatch(info, SyncConnection.saysRollback(sql), super::executeLargeBatch);
            }
            return connection.runCounterBatch(info, new ArrayList<>(batchDeltas), super::executeLargeBatch,
                    counts -> counts, counts -> counts, oneByOne());
        } finally {
            afterBatch();
        }
    }

    /**
     * The batch run again entry by entry ({@link #entryByEntry}), or {@code null} when an entry has a parameter
     * that cannot be bound again (a stream, a LOB).
     */
    private SqlCall<long[]> oneByOne() {
        List<Binder[]> entries = new ArrayList<>(batchBinds);
        List<String> deltas = new ArrayList<>(batchDeltas);
        boolean replayable = entries.size() == deltas.size() && entries.stream()
                .allMatch(entry -> Arrays.stream(entry).allMatch(b -> b != null && b != UNKNOWN));
        return replayable ? () -> entryByEntry(entries, deltas) : null;
    }

    /**
     * Runs a counter batch one entry at a time on the wrapped statement, noting where the outbox ends after each, and
     * then marks each entry's captured rows with its amounts (see {@link SyncConnection#runCounterBatch}). When an entry fails, the entries before
     * it stay written with their amounts, as sqlite-jdbc's batch leaves them, and the failure is thrown as
     * sqlite-jdbc throws it. Counted as sqlite-jdbc counts a batch entry ({@code changes()}).
     */
    private long[] entryByEntry(List<Binder[]> entries, List<String> deltas) throws SQLException {
        // sqlite-jdbc binds an execution's values after the entries it holds: they run here instead
        super.clearBatch();
        long[] counts = new long[entries.size()];
        long[] ends = new long[entries.size() + 1];
        int done = 0;
        try (PreparedStatement end = connection.delegate.prepareStatement(SyncConnection.OUTBOX_END)) {
            ends[0] = connection.markOutboxEnd();
            for (; done < entries.size(); done++) {
                for (Binder b : entries.get(done)) {
                    b.bind(raw);
                }
                counts[done] = connection.batchEntry(raw::executeLargeUpdate);
                ends[done + 1] = SyncConnection.outboxEnd(end);
            }
        } catch (SQLException failed) {
            try {
                connection.markEntries(info.table(), ends, done, deltas);
            } catch (SQLException marking) {
                failed.addSuppressed(marking);
            }
            throw failed;
        }
        connection.markEntries(info.table(), ends, done, deltas);
        return counts;
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
