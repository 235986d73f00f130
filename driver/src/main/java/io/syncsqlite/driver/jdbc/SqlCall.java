package io.syncsqlite.driver.jdbc;

import java.sql.SQLException;

/** A JDBC call made on the delegate, run by {@link SyncConnection} inside the right transaction. */
@FunctionalInterface
interface SqlCall<T> {
    T call() throws SQLException;
}
