package io.syncsqlite.driver.jdbc;

import io.syncsqlite.driver.capture.TriggerSql;

import java.sql.DatabaseMetaData;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Locale;

/**
 * The database's metadata as the application's own: {@link #getTables} and {@link #getColumns} leave out the
 * driver's bookkeeping tables ({@code _sync_*}), which sqlite-jdbc lists with the application's. Tools that list
 * every table act on what they find: Liquibase's {@code dropAll} and diff, jOOQ's code generation, database
 * browsers (JdbcParityReviewTest). A table asked for by its own name is still described (a pattern that names a
 * {@code _sync_} table exactly), so nothing is hidden from a caller that knows it is there. Queries of
 * {@code sqlite_schema} through the driver leave them out the same way ({@link io.syncsqlite.driver.sql.SchemaListing}).
 *
 * <p>Not thread-safe beyond its connection, like the metadata it wraps.
 */
final class SyncDatabaseMetaData extends DelegatingDatabaseMetaData {

    private final SyncConnection connection;

    SyncDatabaseMetaData(DatabaseMetaData delegate, SyncConnection owner) {
        super(delegate, owner);
        this.connection = owner;
    }

    /**
     * A query of the metadata reads the file as a statement does: inside the application's transaction it must hold
     * the sync client's commits back, or its read snapshot makes the transaction's first write fail with
     * SQLITE_BUSY_SNAPSHOT once the sync client commits (Liquibase lists its tables, then creates them, at a Spring
     * Boot application's start, as the pool's first connection starts the sync client).
     */
    @Override
    protected void beforeQuery() throws SQLException {
        connection.beforeRead();
    }

    /** A result set claims the read {@link #beforeQuery} registered in auto-commit mode, as a statement's does. */
    @Override
    protected ResultSet wrapResultSet(ResultSet resultSet) {
        if (resultSet != null && connection.claimRead()) {
            return new DelegatingStatement.ReadResultSet(resultSet, null, connection);
        }
        return super.wrapResultSet(resultSet);
    }

    @Override
    public ResultSet getTables(String catalog, String schemaPattern, String tableNamePattern, String[] types)
            throws SQLException {
        return ownTables(super.getTables(catalog, schemaPattern, tableNamePattern, types), tableNamePattern);
    }

    @Override
    public ResultSet getColumns(String catalog, String schemaPattern, String tableNamePattern, String columnNamePattern)
            throws SQLException {
        return ownTables(super.getColumns(catalog, schemaPattern, tableNamePattern, columnNamePattern), tableNamePattern);
    }

    /** {@code rows} without the driver's tables, unless {@code pattern} names one of them exactly. */
    private static ResultSet ownTables(ResultSet rows, String pattern) {
        if (rows == null || pattern != null && isDriversTable(pattern) && pattern.indexOf('%') < 0) {
            return rows;
        }
        return new DelegatingResultSet(rows, null) {
            @Override
            public boolean next() throws SQLException {
                while (super.next()) {
                    if (!isDriversTable(getString("TABLE_NAME"))) {
                        return true;
                    }
                }
                return false;
            }
        };
    }

    /** A driver's table, or SQLite's automatic index of one (listed by sqlite-jdbc among the tables). */
    private static boolean isDriversTable(String name) {
        if (name == null) {
            return false;
        }
        String n = name.toLowerCase(Locale.ROOT);
        return n.startsWith(TriggerSql.PREFIX) || n.startsWith("sqlite_autoindex_" + TriggerSql.PREFIX);
    }
}
