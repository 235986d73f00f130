package io.syncsqlite.driver.jdbc;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.regex.Pattern;

/**
 * One statement's {@code getGeneratedKeys()}, as sqlite-jdbc gives it, read when asked for instead of after
 * every INSERT.
 *
 * <p>sqlite-jdbc follows every {@code execute}/{@code executeUpdate} of SQL that starts with INSERT or
 * REPLACE with {@code SELECT last_insert_rowid()}, in a statement it prepares each time, whether or not
 * anyone reads the keys: 2 of the 4 microseconds of a prepared INSERT inside a transaction (measured,
 * docs/BENCHMARKS.md). Applications written for sqlite-jdbc do read them without having asked for
 * {@code RETURN_GENERATED_KEYS}, so they must stay available. SQLite's {@code last_insert_rowid()} belongs
 * to the connection and changes only when a statement inserts into a rowid table, so the keys of the last
 * INSERT can be read later, as long as nothing else ran on the connection first: the connection holds the
 * one statement whose keys are still unread ({@link SyncConnection#keysPending}), and reads them before
 * any other statement of the application runs ({@link #read}). What the driver itself runs in between (the
 * stamp, the transaction's BEGIN and COMMIT) inserts into no rowid table. SQL the driver cannot classify
 * may be several statements followed by capture bookkeeping, so its keys are read at once, as before.
 *
 * <p>Not thread-safe: belongs to one statement, used like its connection.
 */
final class GeneratedKeys {

    /** sqlite-jdbc's own test for SQL whose execution it follows with the keys query (CoreStatement). */
    private static final Pattern INSERT = Pattern.compile("^\\s*(?:with\\s+.+\\(.+?\\))*\\s*(?:insert|replace)\\s*",
            Pattern.CASE_INSENSITIVE | Pattern.DOTALL);

    private final Connection raw;
    /** The last execution inserted and its keys are not read yet. */
    private boolean pending;
    private Statement query;
    private ResultSet keys;

    GeneratedKeys(Connection raw) {
        this.raw = raw;
    }

    /** After an execution of {@code sql} that sqlite-jdbc would have followed with the keys query. */
    void executed(SyncConnection connection, String sql, boolean now) throws SQLException {
        clear();
        if (sql != null && INSERT.matcher(sql).find()) {
            if (now) {
                read();
            } else {
                pending = true;
                connection.keysPending(this);
            }
        }
    }

    /** Reads the keys now (SQLite still holds them: nothing else has run on the connection since). */
    void read() throws SQLException {
        pending = false;
        query = raw.createStatement();
        keys = query.executeQuery("SELECT last_insert_rowid();");
    }

    /** What sqlite-jdbc's {@code getGeneratedKeys()} returns: the keys, or an empty result. */
    ResultSet get(SyncConnection connection) throws SQLException {
        if (pending) {
            connection.keysRead(this);
            read();
        }
        if (keys == null) {
            query = raw.createStatement();
            keys = query.executeQuery("SELECT 1 WHERE 1 = 2;");
        }
        return keys;
    }

    /** The statement is closing. */
    void close(SyncConnection connection) throws SQLException {
        if (pending) {
            connection.keysRead(this);
        }
        clear();
    }

    private void clear() throws SQLException {
        pending = false;
        keys = null;
        if (query != null) {
            Statement q = query;
            query = null;
            q.close();
        }
    }
}
