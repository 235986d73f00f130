package io.syncsqlite.driver.jdbc;

import io.syncsqlite.driver.sql.SqlInfo;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * A prepared statement, classified once when prepared: executing it costs one field read on top of
 * sqlite-jdbc, plus the transaction wrap of an auto-commit write. The application's prepared statement is
 * never re-prepared.
 *
 * <p>Not thread-safe, like the statement it wraps.
 */
public class SyncPreparedStatement extends DelegatingPreparedStatement {

    private final SyncConnection connection;
    private final SqlInfo info;

    public SyncPreparedStatement(PreparedStatement delegate, SyncConnection connection, String sql, SqlInfo info) {
        super(delegate, connection, sql);
        this.connection = connection;
        this.info = info;
    }

    @Override
    public ResultSet executeQuery() throws SQLException {
        return connection.runQuery(info, super::executeQuery);
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
        return connection.run(info, super::executeBatch);
    }

    @Override
    public long[] executeLargeBatch() throws SQLException {
        return connection.run(info, super::executeLargeBatch);
    }

    @Override
    public ResultSet executeQuery(String sql) throws SQLException {
        return connection.runQuery(connection.classify(sql), () -> super.executeQuery(sql));
    }

    @Override
    public boolean execute(String sql) throws SQLException {
        return connection.run(connection.classify(sql), () -> super.execute(sql));
    }

    @Override
    public int executeUpdate(String sql) throws SQLException {
        return connection.run(connection.classify(sql), () -> super.executeUpdate(sql));
    }

    @Override
    public long executeLargeUpdate(String sql) throws SQLException {
        return connection.run(connection.classify(sql), () -> super.executeLargeUpdate(sql));
    }
}
