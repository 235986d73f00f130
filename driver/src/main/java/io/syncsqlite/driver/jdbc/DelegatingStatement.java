package io.syncsqlite.driver.jdbc;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLWarning;
import java.sql.Statement;

/**
 * {@link Statement} that forwards every call to the wrapped statement. Mechanical delegation only:
 * {@link #getConnection()} answers the owning wrapper and result sets come back wrapped, so no raw object
 * leaks; interception belongs in {@link SyncStatement}.
 *
 * <p>As thread-safe as the delegate: sqlite-jdbc objects are meant for one thread at a time.
 */
public class DelegatingStatement extends DelegatingWrapper<Statement> implements Statement {

    protected final Connection owner;
    /**
     * Rows of the last {@code execute} read before its statement committed (a counter statement with
     * RETURNING in auto-commit mode, see {@code SyncConnection.runQuery}): what {@link #getResultSet}
     * returns in place of the delegate's. Null otherwise; set by the subclasses that execute.
     */
    ResultSet readAhead;

    public DelegatingStatement(Statement delegate, Connection owner) {
        super(delegate);
        this.owner = owner;
    }

    /** The result set of this statement's last auto-commit query while it holds the read ({@link SyncConnection#claimRead}). */
    private ReadResultSet openRead;
    /** A query run by {@code execute} holds the read for the result set {@code getResultSet} will fetch. */
    private boolean executedRead;

    protected ResultSet wrapResultSet(ResultSet resultSet) {
        if (resultSet == null) {
            return null;
        }
        if (owner instanceof SyncConnection c && (executedRead || c.claimRead())) {
            executedRead = false;
            return openRead = new ReadResultSet(resultSet, this, c);
        }
        return owner instanceof SyncConnection c ? new WorkingResultSet(resultSet, this, c)
                : new DelegatingResultSet(resultSet, this);
    }

    /** After {@code execute}: a query's read (if it holds one) waits for its result set here. */
    boolean executed(boolean hasResultSet) {
        if (hasResultSet && owner instanceof SyncConnection c && c.claimRead()) {
            executedRead = true;
        }
        return hasResultSet;
    }

    /**
     * Ends the read this statement's last query holds: sqlite-jdbc closes a statement's result set when it runs
     * anything again, so every execution starts here (a statement that ran a query and then an update, a PRAGMA, or
     * a query that failed, kept the sync client waiting its bound at every commit; TodayReviewTest).
     */
    void endRead() {
        if (openRead != null) {
            openRead.release();
            openRead = null;
        }
        if (executedRead) {
            executedRead = false;
            ((SyncConnection) owner).readEnded();
        }
    }

    /**
     * A result set holding its auto-commit query's read ({@link SyncConnection}'s gate) until it is read to its end or
     * closed, or its statement is closed or runs another query.
     */
    /**
     * A result set of a driver connection: reading its rows counts as the connection at work, for the sync client
     * waiting at the gate (SyncNode.Watch): a transaction that read a large result for more than 2 s before writing
     * was taken for a connection left open, and its write failed under the sync client's commit. Counted every 64
     * rows (an atomic add per row would cost a scan a few percent). Not thread-safe, as a result set is not.
     */
    static class WorkingResultSet extends DelegatingResultSet {
        final SyncConnection connection;
        private int rows;

        WorkingResultSet(ResultSet delegate, Statement owner, SyncConnection connection) {
            super(delegate, owner);
            this.connection = connection;
        }

        @Override
        public boolean next() throws SQLException {
            if ((++rows & 63) == 0) {
                connection.rowsRead();
            }
            return delegate.next();
        }
    }

    static final class ReadResultSet extends WorkingResultSet {
        private final java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();

        ReadResultSet(ResultSet delegate, Statement owner, SyncConnection connection) {
            super(delegate, owner, connection);
        }

        void release() {
            if (released.compareAndSet(false, true)) {
                connection.readEnded();
            }
        }

        @Override
        public boolean next() throws SQLException {
            boolean more;
            try {
                more = super.next();
            } catch (SQLException | RuntimeException e) {
                release();
                throw e;
            }
            if (!more) {
                release();
            }
            return more;
        }

        @Override
        public void close() throws SQLException {
            try {
                delegate.close();
            } finally {
                release();
            }
        }
    }

    @Override
    public void addBatch(String sql) throws SQLException {
        delegate.addBatch(sql);
    }

    @Override
    public void cancel() throws SQLException {
        delegate.cancel();
    }

    @Override
    public void clearBatch() throws SQLException {
        delegate.clearBatch();
    }

    @Override
    public void clearWarnings() throws SQLException {
        delegate.clearWarnings();
    }

    @Override
    public void close() throws SQLException {
        GeneratedKeys own = generatedKeys();
        try {
            if (own != null) {
                own.clear();
            }
        } finally {
            try {
                delegate.close();
            } finally {
                endRead();
            }
        }
    }

    @Override
    public void closeOnCompletion() throws SQLException {
        delegate.closeOnCompletion();
    }

    @Override
    public String enquoteIdentifier(String identifier, boolean alwaysQuote) throws SQLException {
        return delegate.enquoteIdentifier(identifier, alwaysQuote);
    }

    @Override
    public String enquoteLiteral(String val) throws SQLException {
        return delegate.enquoteLiteral(val);
    }

    @Override
    public String enquoteNCharLiteral(String val) throws SQLException {
        return delegate.enquoteNCharLiteral(val);
    }

    @Override
    public boolean execute(String sql) throws SQLException {
        endRead();
        return executed(delegate.execute(sql));
    }

    @Override
    public boolean execute(String sql, int autoGeneratedKeys) throws SQLException {
        endRead();
        return executed(delegate.execute(sql, autoGeneratedKeys));
    }

    @Override
    public boolean execute(String sql, int[] columnIndexes) throws SQLException {
        endRead();
        return executed(delegate.execute(sql, columnIndexes));
    }

    @Override
    public boolean execute(String sql, String[] columnNames) throws SQLException {
        endRead();
        return executed(delegate.execute(sql, columnNames));
    }

    @Override
    public int[] executeBatch() throws SQLException {
        endRead();
        return delegate.executeBatch();
    }

    @Override
    public long[] executeLargeBatch() throws SQLException {
        endRead();
        return delegate.executeLargeBatch();
    }

    @Override
    public long executeLargeUpdate(String sql) throws SQLException {
        endRead();
        return delegate.executeLargeUpdate(sql);
    }

    @Override
    public long executeLargeUpdate(String sql, int autoGeneratedKeys) throws SQLException {
        endRead();
        return delegate.executeLargeUpdate(sql, autoGeneratedKeys);
    }

    @Override
    public long executeLargeUpdate(String sql, int[] columnIndexes) throws SQLException {
        endRead();
        return delegate.executeLargeUpdate(sql, columnIndexes);
    }

    @Override
    public long executeLargeUpdate(String sql, String[] columnNames) throws SQLException {
        endRead();
        return delegate.executeLargeUpdate(sql, columnNames);
    }

    @Override
    public ResultSet executeQuery(String sql) throws SQLException {
        endRead();
        return wrapResultSet(delegate.executeQuery(sql));
    }

    @Override
    public int executeUpdate(String sql) throws SQLException {
        endRead();
        return delegate.executeUpdate(sql);
    }

    @Override
    public int executeUpdate(String sql, int autoGeneratedKeys) throws SQLException {
        endRead();
        return delegate.executeUpdate(sql, autoGeneratedKeys);
    }

    @Override
    public int executeUpdate(String sql, int[] columnIndexes) throws SQLException {
        endRead();
        return delegate.executeUpdate(sql, columnIndexes);
    }

    @Override
    public int executeUpdate(String sql, String[] columnNames) throws SQLException {
        endRead();
        return delegate.executeUpdate(sql, columnNames);
    }

    @Override
    public Connection getConnection() throws SQLException {
        return owner;
    }

    @Override
    public int getFetchDirection() throws SQLException {
        return delegate.getFetchDirection();
    }

    @Override
    public int getFetchSize() throws SQLException {
        return delegate.getFetchSize();
    }

    @Override
    public ResultSet getGeneratedKeys() throws SQLException {
        GeneratedKeys own = generatedKeys();
        if (own == null) {
            return wrapResultSet(delegate.getGeneratedKeys());
        }
        if (isClosed()) {
            throw new SQLException("statement is closed", SyncSqlState.CONNECTION_CLOSED.code());
        }
        return wrapResultSet(own.get());
    }

    /** The keys of a statement that reads them itself ({@link GeneratedKeys}); null: sqlite-jdbc's. */
    GeneratedKeys generatedKeys() {
        return null;
    }

    @Override
    public long getLargeMaxRows() throws SQLException {
        return delegate.getLargeMaxRows();
    }

    @Override
    public long getLargeUpdateCount() throws SQLException {
        return delegate.getLargeUpdateCount();
    }

    @Override
    public int getMaxFieldSize() throws SQLException {
        return delegate.getMaxFieldSize();
    }

    @Override
    public int getMaxRows() throws SQLException {
        return delegate.getMaxRows();
    }

    @Override
    public boolean getMoreResults() throws SQLException {
        endRead(); // the current result set closes
        if (readAhead != null) {
            readAhead.close();
            readAhead = null;
            return false;
        }
        return delegate.getMoreResults();
    }

    @Override
    public boolean getMoreResults(int current) throws SQLException {
        endRead();
        return delegate.getMoreResults(current);
    }

    @Override
    public int getQueryTimeout() throws SQLException {
        return delegate.getQueryTimeout();
    }

    @Override
    public ResultSet getResultSet() throws SQLException {
        return readAhead != null ? readAhead : wrapResultSet(delegate.getResultSet());
    }

    @Override
    public int getResultSetConcurrency() throws SQLException {
        return delegate.getResultSetConcurrency();
    }

    @Override
    public int getResultSetHoldability() throws SQLException {
        return delegate.getResultSetHoldability();
    }

    @Override
    public int getResultSetType() throws SQLException {
        return delegate.getResultSetType();
    }

    @Override
    public int getUpdateCount() throws SQLException {
        return readAhead != null ? -1 : delegate.getUpdateCount();
    }

    @Override
    public SQLWarning getWarnings() throws SQLException {
        return delegate.getWarnings();
    }

    @Override
    public boolean isCloseOnCompletion() throws SQLException {
        return delegate.isCloseOnCompletion();
    }

    @Override
    public boolean isClosed() throws SQLException {
        return delegate.isClosed();
    }

    @Override
    public boolean isPoolable() throws SQLException {
        return delegate.isPoolable();
    }

    @Override
    public boolean isSimpleIdentifier(String identifier) throws SQLException {
        return delegate.isSimpleIdentifier(identifier);
    }

    @Override
    public void setCursorName(String name) throws SQLException {
        delegate.setCursorName(name);
    }

    @Override
    public void setEscapeProcessing(boolean enable) throws SQLException {
        delegate.setEscapeProcessing(enable);
    }

    @Override
    public void setFetchDirection(int direction) throws SQLException {
        delegate.setFetchDirection(direction);
    }

    @Override
    public void setFetchSize(int rows) throws SQLException {
        delegate.setFetchSize(rows);
    }

    @Override
    public void setLargeMaxRows(long max) throws SQLException {
        delegate.setLargeMaxRows(max);
    }

    @Override
    public void setMaxFieldSize(int max) throws SQLException {
        delegate.setMaxFieldSize(max);
    }

    @Override
    public void setMaxRows(int max) throws SQLException {
        delegate.setMaxRows(max);
    }

    @Override
    public void setPoolable(boolean poolable) throws SQLException {
        delegate.setPoolable(poolable);
    }

    @Override
    public void setQueryTimeout(int seconds) throws SQLException {
        delegate.setQueryTimeout(seconds);
    }
}
