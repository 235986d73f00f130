package io.syncsqlite.driver.jdbc;

import java.sql.SQLException;

/** A JDBC call that takes the SQL text to run: the application's, or the driver's rewrite of it. */
@FunctionalInterface
interface SqlTextCall<T> {
    T call(String sql) throws SQLException;
}
