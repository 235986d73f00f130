package io.syncsqlite.driver.jdbc;

import io.syncsqlite.driver.sql.SqlInfo;

import java.sql.CallableStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * A callable statement (sqlite-jdbc has no stored procedures, but the JDBC surface allows preparing any
 * SQL with {@code prepareCall}); its executions pass the same choke point as prepared statements.
 *
 * <p>Not thread-safe, like the statement it wraps.
 */
public class SyncCallableStatement extends DelegatingCallableStatement {

    private final SyncConnection connection;
    private final SqlInfo info;

    public SyncCallableStatement(CallableStatement delegate, SyncConnection connection, String sql, SqlInfo info) {
        super(delegate, connection, sql);
        this.connection = connection;
        this.info = info;
    }

    @Override
    public ResultSet executeQuery() throws SQLException {
        return connection.runQuery(info, null, super::executeQuery);
    }

    @Override
    public int executeUpdate() throws SQLException {
        return connection.run(info, super::executeUpdate);
    }

    @Override
    public long executeLargeUpdate() throws SQLException {
        return connection.run(info, super::executeLargeUpdate);
    }

    @Override
    public boolean execute() throws SQLException {
        return connection.run(info, super::execute);
    }

    @Override
    public int[] executeBatch() throws SQLException {
        return connection.runBatch(info, SyncConnection.saysRollback(sql), super::executeBatch);
    }

    @Override
    public long[] executeLargeBatch() throws SQLException {
        return connection.runBatch(info, SyncConnection.saysRollback(sql), super::executeLargeBatch);
    }
}
