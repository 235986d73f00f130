package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The update counts of {@code Statement.executeUpdate(String)} through the driver are sqlite-jdbc's without it.
 * sqlite-jdbc counts that call as the growth of SQLite's total_changes, which counts what triggers write: with the
 * capture triggers a one-row INSERT said 2, a key change 3 (JdbcTemplate.update(sql) returns this count).
 */
class UpdateCountTest {

    @TempDir
    Path dir;

    private static final List<String> STATEMENTS = List.of(
            "INSERT INTO item (id, title, qty) VALUES (1, 'a', 1)",
            "INSERT INTO item (id, title, qty) VALUES (2, 'b', 2), (3, 'c', 3)",
            "UPDATE item SET title = 'x' WHERE id = 1",
            "UPDATE item SET title = title", // changes no value: no outbox row, still a changed row for SQLite
            "UPDATE item SET qty = qty + 1",
            "UPDATE item SET id = 10 WHERE id = 1", // a key change: two outbox rows
            "INSERT INTO item (id, title, qty) VALUES (2, 'u', 0) ON CONFLICT (id) DO UPDATE SET title = excluded.title",
            "INSERT OR REPLACE INTO item (id, title, qty) VALUES (3, 'r', 9)",
            "DELETE FROM item WHERE id = 10",
            "DELETE FROM item WHERE id = 999",
            "DELETE FROM item");

    /** The count of each of {@link #STATEMENTS} through {@code url}, by executeUpdate and executeLargeUpdate in turn. */
    private static List<Long> counts(String url, boolean autoCommit, boolean keys) throws SQLException {
        List<Long> out = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER)");
            c.setAutoCommit(autoCommit);
            for (int i = 0; i < STATEMENTS.size(); i++) {
                String sql = STATEMENTS.get(i);
                if (keys) {
                    out.add((long) st.executeUpdate(sql, Statement.RETURN_GENERATED_KEYS));
                } else {
                    out.add(i % 2 == 0 ? st.executeUpdate(sql) : st.executeLargeUpdate(sql));
                }
            }
            if (!autoCommit) {
                c.commit();
            }
        }
        return out;
    }

    @Test
    void countsAreSqliteJdbcsWithoutTheDriver() throws Exception {
        int n = 0;
        for (boolean autoCommit : new boolean[] {true, false}) {
            for (boolean keys : new boolean[] {false, true}) {
                n++;
                List<Long> raw = counts("jdbc:sqlite:" + dir.resolve("raw" + n + ".db"), autoCommit, keys);
                List<Long> synced = counts("jdbc:syncsqlite:" + dir.resolve("synced" + n + ".db") + "?sync.lingerMs=0",
                        autoCommit, keys);
                assertEquals(List.of(1L, 2L, 1L, 3L, 3L, 1L, 1L, 1L, 1L, 0L, 2L), raw, "plain sqlite-jdbc");
                assertEquals(raw, synced, "autoCommit " + autoCommit + ", keys " + keys);
            }
        }
    }

    @Test
    void aTableWithItsOwnTriggerCountsTheRowsTheStatementChanged() throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("app.db") + "?sync.lingerMs=0");
             Statement st = c.createStatement()) {
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT)");
            st.execute("CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT)");
            st.execute("CREATE TRIGGER item_audit AFTER INSERT ON item BEGIN INSERT INTO audit (what) VALUES (NEW.title); END");
            // As sqlite-jdbc's prepared statements and batches count (plain sqlite-jdbc's executeUpdate(String) would
            // say 2 here, counting the audit row).
            assertEquals(1, st.executeUpdate("INSERT INTO item (id, title) VALUES (1, 'a')"));
            assertEquals(1, st.executeUpdate("INSERT INTO audit (what) VALUES ('by hand')"));
        }
    }

    @Test
    void aWriteThroughAViewCountsAsSqliteJdbcCountsIt() throws Exception {
        List<Long> counts = new ArrayList<>();
        for (String url : List.of("jdbc:sqlite:" + dir.resolve("raw.db"),
                "jdbc:syncsqlite:" + dir.resolve("view.db") + "?sync.lingerMs=0")) {
            try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement()) {
                st.execute("CREATE TABLE log (what TEXT)"); // no key: not synced
                st.execute("CREATE VIEW entry AS SELECT what FROM log");
                st.execute("CREATE TRIGGER entry_in INSTEAD OF INSERT ON entry BEGIN INSERT INTO log VALUES (NEW.what); END");
                // sqlite-jdbc counts the trigger's row here; changes() would say 0 for a view.
                counts.add((long) st.executeUpdate("INSERT INTO entry (what) VALUES ('a')"));
            }
        }
        assertEquals(List.of(1L, 1L), counts);
    }
}
