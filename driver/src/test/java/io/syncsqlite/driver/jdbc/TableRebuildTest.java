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

    /**
     * The end of a rebuild that added {@code note} after an update of row 1 ({@code qty = 10}) and a fill of the notes:
     * commit, one insert after; then the table, the outbox since {@code before} (the update before, the notes, the insert
     * after, no insert of the copied rows), the record, the triggers on item, and the snapshot the new column asks for.
     */
    private static void followedWithItsNewColumn(Connection c, Statement st, long before) throws SQLException {
        c.commit();
        c.setAutoCommit(true);
        st.executeUpdate("INSERT INTO item (id, title, qty, note) VALUES (3, 'c', 3, 'new')");
        assertEquals(List.of("1|a|10|note 1", "2|b|2|note 2", "3|c|3|new"), rows(c, "SELECT * FROM item ORDER BY id"));
        assertEquals(List.of("2|item", "2|item", "2|item", "1|item"),
                rows(c, "SELECT op, tbl FROM _sync_outbox WHERE seq > " + before + " AND op <> 0 ORDER BY seq"));
        assertEquals(List.of("item"), rows(c, "SELECT name FROM _sync_tables"));
        assertEquals(List.of("_sync_del_item on item", "_sync_ins_item on item", "_sync_key_item on item",
                "_sync_upd_item on item"), syncTriggers(c));
        // the new column's values may already be in PostgreSQL: the next connection takes a snapshot
        assertTrue(io.syncsqlite.driver.capture.Outbox.snapshotRequested(c.unwrap(org.sqlite.SQLiteConnection.class)));
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
            followedWithItsNewColumn(c, st, before);
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

    /** The rows are compared byte for byte: a NOCASE column's own comparison took upper-cased copies for the same rows. */
    @Test
    void aCopyThatChangesLetterCaseInANocaseColumnIsRefusedAtTheDrop() throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("nocase.db") + "?sync.lingerMs=0");
             Statement st = c.createStatement()) {
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT COLLATE NOCASE, qty INTEGER)");
            st.executeUpdate("INSERT INTO item (id, title, qty) VALUES (1, 'a', 1), (2, 'b ', 2)");
            c.setAutoCommit(false);
            st.execute("ALTER TABLE item RENAME TO item_temporary");
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT COLLATE NOCASE, qty INTEGER, note TEXT)");
            st.executeUpdate("INSERT INTO item (id, title, qty) SELECT id, upper(title), qty FROM item_temporary");
            SQLException e = assertThrows(SQLException.class, () -> st.execute("DROP TABLE item_temporary"));
            assertEquals("SY002", e.getSQLState(), e.getMessage());
            c.rollback();
        }
    }

    // The order of SQLite's documentation ("Making Other Kinds Of Table Schema Changes"), Room, Django and
    // sqlite-utils: create the new table under another name, copy, drop the old one, rename the new one.

    private static final String NEW_SHAPE = "CREATE TABLE new_item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER,"
            + " note TEXT)";

    static List<String> syncTriggers(Connection c) throws SQLException {
        return rows(c, "SELECT name || ' on ' || tbl_name FROM sqlite_schema WHERE type = 'trigger'"
                + " AND name LIKE '\\_sync\\_%' ESCAPE '\\' ORDER BY 1");
    }

    private static void takeSnapshotRequest(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.executeUpdate("DELETE FROM _sync_state WHERE k = 'snapshot_needed'"); // as a connected sync client would
        }
    }

    @Test
    void theDocumentedOrderIsFollowedWithoutCapturingTheCopy() throws Exception {
        try (Connection c = open("documented"); Statement st = c.createStatement()) {
            takeSnapshotRequest(c);
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.executeUpdate("UPDATE item SET qty = 10 WHERE id = 1"); // a change of this transaction before the rebuild
            st.execute(NEW_SHAPE);
            st.executeUpdate("INSERT INTO new_item (id, title, qty) SELECT id, title, qty FROM item");
            st.execute("DROP TABLE item");
            st.execute("ALTER TABLE new_item RENAME TO item");
            st.execute("CREATE INDEX item_title ON item (title)");
            st.executeUpdate("UPDATE item SET note = 'note ' || id");
            followedWithItsNewColumn(c, st, before);
        }
    }

    @Test
    void aRebuildOfTheSameColumnsKeepsItsTriggersAndRequestsNoSnapshot() throws Exception {
        try (Connection c = open("same"); Statement st = c.createStatement()) {
            takeSnapshotRequest(c);
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            // the same columns (a rebuild that changes only constraints): the capture it needs has the same text as
            // the old table's, but SQLite renamed new_item's triggers with the table, and they capture as new_item
            st.execute("CREATE TABLE new_item (id INTEGER PRIMARY KEY, title TEXT NOT NULL, qty INTEGER CHECK (qty >= 0))");
            st.executeUpdate("INSERT INTO new_item SELECT * FROM item");
            st.execute("DROP TABLE item");
            st.execute("ALTER TABLE new_item RENAME TO item");
            st.executeUpdate("UPDATE item SET qty = 4 WHERE id = 2"); // captured by the renamed table's new triggers
            c.commit();
            c.setAutoCommit(true);

            assertEquals(List.of("2|item"),
                    rows(c, "SELECT op, tbl FROM _sync_outbox WHERE seq > " + before + " AND op <> 0 ORDER BY seq"));
            assertEquals(List.of("_sync_del_item on item", "_sync_ins_item on item", "_sync_key_item on item",
                    "_sync_upd_item on item"), syncTriggers(c));
            assertEquals(List.of("item"), rows(c, "SELECT name FROM _sync_tables"));
            assertTrue(!io.syncsqlite.driver.capture.Outbox.snapshotRequested(c.unwrap(org.sqlite.SQLiteConnection.class)),
                    "a rebuild that adds no column needs no snapshot, and the new table's own request is withdrawn");
        }
    }

    @Test
    void aCopyThatLeavesARowOutIsNotFollowedAndTheRenameSaysWhy() throws Exception {
        try (Connection c = open("partial"); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            st.execute(NEW_SHAPE);
            st.executeUpdate("INSERT INTO new_item (id, title, qty) SELECT id, title, qty FROM item WHERE id = 1");
            st.execute("DROP TABLE item"); // a plain drop, as without a rebuild
            SQLException e = assertThrows(SQLException.class, () -> st.execute("ALTER TABLE new_item RENAME TO item"));
            assertEquals("SY002", e.getSQLState(), e.getMessage());
            assertTrue(e.getMessage().contains("would end a rebuild of synced table item, and new_item does not hold the same rows"), e.getMessage());
            c.rollback();
            c.setAutoCommit(true);
            assertEquals(List.of("1|a|1", "2|b|2"), rows(c, "SELECT * FROM item ORDER BY id"));
        }
    }

    @Test
    void rowsWrittenToTheNewTableBetweenTheDropAndTheRenameRefuseTheRename() throws Exception {
        try (Connection c = open("between"); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            st.execute(NEW_SHAPE);
            st.executeUpdate("INSERT INTO new_item (id, title, qty) SELECT id, title, qty FROM item");
            st.execute("DROP TABLE item");
            st.executeUpdate("UPDATE new_item SET note = 'lost?' WHERE id = 2");
            SQLException e = assertThrows(SQLException.class, () -> st.execute("ALTER TABLE new_item RENAME TO item"));
            assertEquals("SY002", e.getSQLState(), e.getMessage());
            assertTrue(e.getMessage().contains("after item was dropped"), e.getMessage());
            c.rollback();
        }
    }

    @Test
    void aReplacementNeverRenamedIsAPlainDropAndANewTable() throws Exception {
        try (Connection c = open("norename"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.execute(NEW_SHAPE);
            st.executeUpdate("INSERT INTO new_item (id, title, qty) SELECT id, title, qty FROM item");
            st.execute("DROP TABLE item");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("new_item"), rows(c, "SELECT name FROM _sync_tables"));
            assertEquals(List.of("1|new_item", "1|new_item"),
                    rows(c, "SELECT op, tbl FROM _sync_outbox WHERE seq > " + before + " AND op <> 0 ORDER BY seq"));
            // a table created under the dropped one's name later is a new table: its rows are captured (backfilled)
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT)");
            assertEquals(List.of("item", "new_item"), rows(c, "SELECT name FROM _sync_tables ORDER BY 1"));
        }
    }

    @Test
    void aRollbackToASavepointThatUndidTheDropForgetsTheReplacement() throws Exception {
        try (Connection c = open("savepoint"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.execute(NEW_SHAPE);
            st.executeUpdate("INSERT INTO new_item (id, title, qty) SELECT id, title, qty FROM item");
            java.sql.Savepoint sp = c.setSavepoint("drop");
            st.execute("DROP TABLE item");
            c.rollback(sp);
            st.executeUpdate("UPDATE item SET qty = 9 WHERE id = 1"); // the old table again, captured
            st.executeUpdate("DELETE FROM new_item WHERE id = 2");
            st.execute("DROP TABLE item"); // new_item no longer holds its rows: a plain drop
            assertThrows(SQLException.class, () -> st.execute("ALTER TABLE new_item RENAME TO item"));
            c.rollback();
            c.setAutoCommit(true);
            assertEquals(List.of("1|a|1", "2|b|2"), rows(c, "SELECT * FROM item ORDER BY id"));
            assertEquals(before, outboxEnd(c));
        }
    }

    @Test
    void theDocumentedOrderInAutoCommitModeIsStillRefusedAtTheRename() throws Exception {
        try (Connection c = open("autodocumented"); Statement st = c.createStatement()) {
            st.execute(NEW_SHAPE);
            st.executeUpdate("INSERT INTO new_item (id, title, qty) SELECT id, title, qty FROM item");
            st.execute("DROP TABLE item");
            SQLException e = assertThrows(SQLException.class, () -> st.execute("ALTER TABLE new_item RENAME TO item"));
            assertEquals("SY002", e.getSQLState());
        }
    }
}
