package io.syncsqlite.driver.jdbc;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.regex.Pattern;

/**
 * One statement's {@code getGeneratedKeys()}, as sqlite-jdbc gives it, at a fraction of its cost.
 *
 * <p>sqlite-jdbc follows every {@code execute}/{@code executeUpdate} of SQL that starts with INSERT or
 * REPLACE with {@code SELECT last_insert_rowid()}, in a statement it prepares, runs and keeps open each
 * time, whether or not anyone reads the keys: 3 of the 4.5 microseconds of a prepared INSERT inside a
 * transaction (measured, docs/BENCHMARKS.md). Applications written for sqlite-jdbc do read them without
 * having asked for {@code RETURN_GENERATED_KEYS}, so they must stay available, with the same values: the
 * driver turns sqlite-jdbc's query off for its own executions and reads the same value right after each
 * successful one through the connection's one prepared statement ({@link SyncConnection#lastInsertRowid}),
 * keeping a number; the result set is built only when asked for. Reading at once, not when asked, matters:
 * an INSERT that fails after SQLite inserted a row (a later row of a multi-row VALUES, a foreign key, a
 * trigger's RAISE) leaves the rolled-back row's id in {@code last_insert_rowid()}, where sqlite-jdbc keeps
 * the keys of the last successful execution; so does capture bookkeeping after SQL the driver cannot
 * classify.
 *
 * <p>Not thread-safe: belongs to one statement, used like its connection.
 */
final class GeneratedKeys {

    /** sqlite-jdbc's own test for SQL whose execution it follows with the keys query (CoreStatement). */
    private static final Pattern INSERT = Pattern.compile("^\\s*(?:with\\s+.+\\(.+?\\))*\\s*(?:insert|replace)\\s*",
            Pattern.CASE_INSENSITIVE | Pattern.DOTALL);

    private final Connection raw;
    /** The rowid the last successful insert left, or null (none, or the last execution inserted nothing). */
    private Long rowid;
    private Statement query;
    private ResultSet keys;

    GeneratedKeys(Connection raw) {
        this.raw = raw;
    }

    /** Whether sqlite-jdbc follows an execution of {@code sql} with its keys query (an INSERT or REPLACE). */
    static boolean inserts(String sql) {
        return sql != null && INSERT.matcher(sql).find();
    }

    /** After a successful execution; {@code inserts}: of SQL for which {@link #inserts} is true. */
    void executed(SyncConnection connection, boolean inserts) throws SQLException {
        clear();
        rowid = inserts ? connection.lastInsertRowid() : null;
    }

    /** What sqlite-jdbc's {@code getGeneratedKeys()} returns: the same result set until the next execution. */
    ResultSet get() throws SQLException {
        if (keys == null) {
            query = raw.createStatement();
            keys = query.executeQuery(rowid != null ? "SELECT " + rowid + " AS \"last_insert_rowid()\""
                    : "SELECT 1 WHERE 1 = 2;");
        }
        return keys;
    }

    /** The statement is closing, or runs again. */
    void clear() throws SQLException {
        rowid = null;
        keys = null;
        if (query != null) {
            Statement q = query;
            query = null;
            q.close();
        }
    }
}
