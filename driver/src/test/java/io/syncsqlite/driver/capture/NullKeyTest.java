package io.syncsqlite.driver.capture;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

import static io.syncsqlite.driver.capture.VirtualTableTest.rows;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SQLite lets a key column of a rowid table other than the rowid alias hold NULL (a TEXT key, a composite key,
 * {@code INTEGER PRIMARY KEY DESC}); PostgreSQL's keys cannot. Such a row used to be captured, sent, refused by the
 * relay and reverted on the device later, after the application had seen its write succeed. The capture refuses it
 * at the write now, with a message naming the column, and what was committed before stays. Real SQLite files.
 */
class NullKeyTest {

    @TempDir
    Path dir;

    private Connection open(String name) throws SQLException {
        return DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve(name + ".db") + "?sync.lingerMs=0");
    }

    private static void refused(Statement st, String sql, String column) {
        SQLException e = assertThrows(SQLException.class, () -> st.executeUpdate(sql), sql);
        assertTrue(e.getMessage().contains("primary key column " + column + " is NULL, which cannot sync"), e.getMessage());
    }

    @Test
    void aNullKeyIsRefusedAtTheWrite() throws Exception {
        try (Connection c = open("text"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE tag (code TEXT PRIMARY KEY, label TEXT)");
            st.execute("CREATE TABLE pair (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b))");
            st.execute("CREATE TABLE d (id INTEGER PRIMARY KEY DESC, v TEXT)"); // not the rowid's alias: takes NULL
            st.executeUpdate("INSERT INTO tag (code, label) VALUES ('a', 'kept')");
            long outbox = Long.parseLong(rows(c, "SELECT count(*) FROM _sync_outbox").get(0));

            refused(st, "INSERT INTO tag (label) VALUES ('no code')", "tag.code");
            refused(st, "INSERT INTO pair (a, v) VALUES ('x', 'half a key')", "pair.b");
            refused(st, "INSERT INTO d (v) VALUES ('no id')", "d.id");
            refused(st, "UPDATE tag SET code = NULL WHERE code = 'a'", "tag.code");
            c.setAutoCommit(false);
            st.executeUpdate("INSERT INTO tag (code, label) VALUES ('b', 'in the transaction')");
            refused(st, "INSERT INTO tag (code, label) VALUES (NULL, 'no')", "tag.code");
            c.commit(); // the statement failed, the transaction's other write stays
            c.setAutoCommit(true);

            assertEquals(List.of("a|kept", "b|in the transaction"), rows(c, "SELECT * FROM tag ORDER BY code"));
            assertEquals(List.of(), rows(c, "SELECT * FROM pair"));
            assertEquals(List.of(), rows(c, "SELECT * FROM d"));
            assertEquals(List.of(String.valueOf(outbox + 1)), rows(c, "SELECT count(*) FROM _sync_outbox"));
        }
    }

    @Test
    void theRowidAliasIsStillFilledBySqlite() throws Exception {
        try (Connection c = open("rowid"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, v TEXT)");
            st.executeUpdate("INSERT INTO item (v) VALUES ('a')");
            st.executeUpdate("INSERT INTO item (id, v) VALUES (NULL, 'b')");
            assertEquals(List.of("1|a", "2|b"), rows(c, "SELECT * FROM item ORDER BY id"));
        }
    }

    @Test
    void aTableWithNullKeysIsNotSyncedUntilTheyAreGiven() throws Exception {
        Path file = dir.resolve("existing.db");
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = raw.createStatement()) {
            st.execute("CREATE TABLE tag (code TEXT PRIMARY KEY, label TEXT)");
            st.executeUpdate("INSERT INTO tag (code, label) VALUES ('a', 'x'), (NULL, 'y')");
        }
        SQLException e = assertThrows(SQLException.class,
                () -> DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0").close());
        assertEquals("SY001", e.getSQLState());
        assertTrue(e.getMessage().contains("primary key column tag.code is NULL in some rows"), e.getMessage());
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = raw.createStatement()) {
            st.executeUpdate("UPDATE tag SET code = 'b' WHERE code IS NULL");
        }
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0")) {
            assertEquals(List.of("2"), rows(c, "SELECT count(*) FROM _sync_outbox WHERE op = 1")); // backfilled
        }
    }
}
