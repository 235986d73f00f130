package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A synced table rebuilt in one transaction, as Liquibase's {@code addColumn} does on SQLite: renamed away, created
 * anew with the new column, the rows copied, the old table dropped. The driver follows it: the copy is not captured
 * (PostgreSQL has those rows), the table stays synced with its new shape, and a rebuild that would lose a column or
 * the key, or that is committed unfinished, is refused (SY002). Real SQLite files, no relay.
 */
class TableRebuildTest {

    private static final String REBUILD_INTO_NEW_SHAPE = "CREATE TABLE item (id INTEGER NOT NULL, title TEXT, qty INTEGER,"
            + " note TEXT, CONSTRAINT PK_ITEM PRIMARY KEY (id))";

    @TempDir
    Path dir;

    private Connection open(String name) throws SQLException {
        Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve(name + ".db") + "?sync.lingerMs=0");
        try (Statement st = c.createStatement()) {
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER)");
            st.executeUpdate("INSERT INTO item (id, title, qty) VALUES (1, 'a', 1), (2, 'b', 2)");
        }
        return c;
    }

    static List<String> rows(Connection c, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                StringBuilder b = new StringBuilder();
                for (int i = 1; i <= n; i++) {
                    b.append(i > 1 ? "|" : "").append(rs.getString(i));
                }
                out.add(b.toString());
            }
        }
        return out;
    }

    static long outboxEnd(Connection c) throws SQLException {
        return Long.parseLong(rows(c, "SELECT coalesce(max(seq), 0) FROM _sync_outbox").get(0));
    }

    @Test
    void aRebuildThatAddsAColumnIsFollowedWithoutCapturingTheCopy() throws Exception {
        try (Connection c = open("add"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.executeUpdate("UPDATE item SET qty = 10 WHERE id = 1"); // a change of this transaction before the rebuild
            st.execute("ALTER TABLE item RENAME TO item_temporary");
            st.execute(REBUILD_INTO_NEW_SHAPE);
            st.executeUpdate("INSERT INTO item (id, title, qty) SELECT id, title, qty FROM item_temporary");
            st.execute("DROP TABLE item_temporary");
            st.execute("REINDEX item");
            st.executeUpdate("UPDATE item SET note = 'note ' || id");
            c.commit();
            c.setAutoCommit(true);
            st.executeUpdate("INSERT INTO item (id, title, qty, note) VALUES (3, 'c', 3, 'new')");

            assertEquals(List.of("1|a|10|note 1", "2|b|2|note 2", "3|c|3|new"), rows(c, "SELECT * FROM item ORDER BY id"));
            // the update before, the notes, the insert after; no insert of the copied rows
            assertEquals(List.of("2|item", "2|item", "2|item", "1|item"),
                    rows(c, "SELECT op, tbl FROM _sync_outbox WHERE seq > " + before + " AND op <> 0 ORDER BY seq"));
            assertEquals(List.of("item"), rows(c, "SELECT name FROM _sync_tables"));
            assertEquals(List.of("_sync_del_item", "_sync_ins_item", "_sync_key_item", "_sync_upd_item"),
                    rows(c, "SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE '\\_sync\\_%' ESCAPE '\\' ORDER BY 1"));
            // the new column's values may already be in PostgreSQL: the next connection takes a snapshot
            assertTrue(io.syncsqlite.driver.capture.Outbox.snapshotRequested(c.unwrap(org.sqlite.SQLiteConnection.class)));
        }
    }

    @Test
    void aRebuildThatLosesAColumnOrTheKeyIsRefusedAtTheDrop() throws Exception {
        for (String create : new String[] {
                "CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT)",
                "CREATE TABLE item (id INTEGER, title TEXT PRIMARY KEY, qty INTEGER)",
        }) {
            try (Connection c = open("lose" + create.length()); Statement st = c.createStatement()) {
                c.setAutoCommit(false);
                st.execute("ALTER TABLE item RENAME TO item_temporary");
                st.execute(create);
                st.executeUpdate("INSERT INTO item (id, title) SELECT id, title FROM item_temporary");
                SQLException e = assertThrows(SQLException.class, () -> st.execute("DROP TABLE item_temporary"));
                assertEquals("SY002", e.getSQLState(), e.getMessage());
                c.rollback();
                c.setAutoCommit(true);
                assertEquals(List.of("1|a|1", "2|b|2"), rows(c, "SELECT * FROM item ORDER BY id"));
            }
        }
    }

    @Test
    void aRebuildLeftUnfinishedIsNotCommitted() throws Exception {
        try (Connection c = open("unfinished"); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            st.execute("ALTER TABLE item RENAME TO item_old");
            SQLException e = assertThrows(SQLException.class, c::commit);
            assertEquals("SY002", e.getSQLState(), e.getMessage());
            c.rollback();
            c.setAutoCommit(true);
            assertEquals(List.of("1|a|1", "2|b|2"), rows(c, "SELECT * FROM item ORDER BY id"));
            st.executeUpdate("UPDATE item SET qty = 5 WHERE id = 1");
            assertEquals("2", rows(c, "SELECT op FROM _sync_outbox ORDER BY seq DESC LIMIT 1").get(0));
        }
    }

    @Test
    void aRenameThatFailsBeginsNoRebuild() throws Exception {
        try (Connection c = open("failed"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE taken (x TEXT)");
            c.setAutoCommit(false);
            assertThrows(SQLException.class, () -> st.execute("ALTER TABLE item RENAME TO taken"));
            st.executeUpdate("UPDATE item SET qty = 7 WHERE id = 2");
            c.commit(); // not refused: nothing was renamed
            c.setAutoCommit(true);
            assertEquals(List.of("1|a|1", "2|b|7"), rows(c, "SELECT * FROM item ORDER BY id"));
        }
    }

    @Test
    void aRenameOutsideATransactionIsStillRefused() throws Exception {
        try (Connection c = open("auto"); Statement st = c.createStatement()) {
            SQLException e = assertThrows(SQLException.class, () -> st.execute("ALTER TABLE item RENAME TO item_temporary"));
            assertEquals("SY002", e.getSQLState());
            assertEquals(List.of("1|a|1", "2|b|2"), rows(c, "SELECT * FROM item ORDER BY id"));
        }
    }
}
