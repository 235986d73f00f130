package io.syncsqlite.driver.capture;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * The driver's bookkeeping tables inside the application's SQLite file, and the SQL that maintains them.
 *
 * <ul>
 *   <li>{@code _sync_outbox}: one row per captured row change, appended by the capture triggers in the
 *       writer's own transaction. {@code seq} is AUTOINCREMENT so it never goes backwards, even after
 *       rows are deleted; with SQLite's single writer, one transaction's rows are one contiguous range.</li>
 *   <li>{@code _sync_tx}: one row per committed local transaction: its HLC and the last outbox
 *       {@code seq} it covers; {@code ack_seq} is the feed position the relay acknowledged it at.</li>
 *   <li>{@code _sync_clock}: a single row holding the newest HLC issued. The driver stamps a
 *       transaction by updating it; a trigger on that update appends the {@code _sync_tx} row. Stamping
 *       through an UPDATE plus trigger rather than a plain INSERT matters: an INSERT would change
 *       {@code last_insert_rowid()}, which Hibernate and {@code getGeneratedKeys} read right after the
 *       application's own insert; an insert made inside a trigger does not.</li>
 *   <li>{@code _sync_state}: key/value: node id, feed cursor.</li>
 * </ul>
 *
 * <p>Stateless; thread-safe.
 */
public final class Outbox {

    public static final int OP_INSERT = 1;
    public static final int OP_UPDATE = 2;
    public static final int OP_DELETE = 3;

    /** Stamps the current transaction: bind the new HLC. Appends a {@code _sync_tx} row if rows are unstamped. */
    public static final String STAMP = "UPDATE _sync_clock SET hlc = ? WHERE id = 1";

    private static final String[] DDL = {
        "CREATE TABLE IF NOT EXISTS _sync_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL,"
                + " op INTEGER NOT NULL, pk TEXT NOT NULL, vals TEXT, changed TEXT)",
        "CREATE TABLE IF NOT EXISTS _sync_tx (id INTEGER PRIMARY KEY AUTOINCREMENT, hlc INTEGER NOT NULL,"
                + " last_seq INTEGER NOT NULL, ack_seq INTEGER)",
        "CREATE TABLE IF NOT EXISTS _sync_clock (id INTEGER PRIMARY KEY CHECK (id = 1), hlc INTEGER NOT NULL)",
        "INSERT OR IGNORE INTO _sync_clock (id, hlc) VALUES (1, 0)",
        "CREATE TABLE IF NOT EXISTS _sync_state (k TEXT PRIMARY KEY, v) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS _sync_tables (name TEXT PRIMARY KEY, triggers TEXT NOT NULL)",
        "CREATE TRIGGER IF NOT EXISTS _sync_stamp AFTER UPDATE OF hlc ON _sync_clock BEGIN"
                + " INSERT INTO _sync_tx (hlc, last_seq)"
                + " SELECT NEW.hlc, m FROM (SELECT max(seq) AS m FROM _sync_outbox)"
                + " WHERE m > coalesce((SELECT last_seq FROM _sync_tx ORDER BY id DESC LIMIT 1), 0);"
                + " END",
    };

    private Outbox() {
    }

    /** Creates the bookkeeping tables if missing. Call inside a write transaction. */
    public static void create(Connection conn) throws SQLException {
        try (Statement st = conn.createStatement()) {
            for (String sql : DDL) {
                st.execute(sql);
            }
        }
    }
}
