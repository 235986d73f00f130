package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.List;

import static io.syncsqlite.driver.jdbc.TableRebuildTest.outboxEnd;
import static io.syncsqlite.driver.jdbc.TableRebuildTest.rows;
import static io.syncsqlite.driver.jdbc.TableRebuildTest.syncTriggers;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of the rebuild in the order of SQLite's documentation (create new_t, copy, drop t, rename new_t to t)
 * followed in the application's transaction (commit 63a32f5). Real SQLite files, capture only, no relay.
 */
class DocumentedRebuildReviewTest {

    private static final String NEW_SHAPE = "CREATE TABLE new_item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER, note TEXT)";
    private static final String COPY = "INSERT INTO new_item (id, title, qty) SELECT id, title, qty FROM item";
    private static final List<String> ITEM_TRIGGERS = List.of("_sync_del_item on item", "_sync_ins_item on item",
            "_sync_key_item on item", "_sync_upd_item on item");

    @TempDir
    Path dir;

    private String url(String name) {
        return "jdbc:syncsqlite:" + dir.resolve(name + ".db") + "?sync.lingerMs=0";
    }

    private Connection open(String name) throws SQLException {
        Connection c = DriverManager.getConnection(url(name));
        try (Statement st = c.createStatement()) {
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER)");
            st.executeUpdate("INSERT INTO item (id, title, qty) VALUES (1, 'a', 1), (2, 'b', 2)");
        }
        return c;
    }

    private static void takeSnapshotRequest(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.executeUpdate("DELETE FROM _sync_state WHERE k = 'snapshot_needed'");
        }
    }

    private static boolean snapshotRequested(Connection c) throws SQLException {
        return !rows(c, "SELECT v FROM _sync_state WHERE k = 'snapshot_needed'").isEmpty();
    }

    /** op|tbl of every captured row after {@code before}, anchors left out. */
    private static List<String> captured(Connection c, long before) throws SQLException {
        return rows(c, "SELECT op || '|' || tbl FROM _sync_outbox WHERE seq > " + before + " AND op <> 0 ORDER BY seq");
    }

    /**
     * {@code step} must be refused with SY002 and, once the transaction is rolled back, have left the table and the
     * outbox as they were before {@code before}.
     */
    private static void refusedAndNothingLeft(Connection c, long before, List<String> itemRows,
                                              org.junit.jupiter.api.function.Executable step) throws SQLException {
        SQLException refused = assertThrows(SQLException.class, step);
        assertEquals("SY002", refused.getSQLState(), refused.getMessage());
        c.rollback();
        c.setAutoCommit(true);
        assertEquals(itemRows, rows(c, "SELECT * FROM item ORDER BY id"));
        assertEquals(List.of(), captured(c, before));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Baseline: what must work

    @Test
    void sqlBeginCommitWithWritesBeforeAndAfterCapturesOnlyThoseUnderItem() throws Exception {
        try (Connection c = open("begin"); Statement st = c.createStatement()) {
            takeSnapshotRequest(c);
            long before = outboxEnd(c);
            st.execute("BEGIN");
            st.executeUpdate("INSERT INTO item (id, title, qty) VALUES (3, 'c', 3)");
            st.executeUpdate("DELETE FROM item WHERE id = 2");
            st.execute("CREATE TABLE IF NOT EXISTS NEW_ITEM (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER, note TEXT)");
            st.executeUpdate("INSERT INTO New_Item (id, title, qty) SELECT id, title, qty FROM Item");
            st.execute("DROP TABLE ITEM");
            st.execute("ALTER TABLE new_item RENAME TO item");
            st.executeUpdate("UPDATE item SET note = 'n' WHERE id = 1");
            st.execute("COMMIT");
            assertEquals(List.of("1|item", "3|item", "2|item"), captured(c, before));
            assertEquals(List.of("item"), rows(c, "SELECT name FROM _sync_tables"));
            assertEquals(ITEM_TRIGGERS, syncTriggers(c));
            assertTrue(snapshotRequested(c), "item gained a column");
            long after = outboxEnd(c);
            st.executeUpdate("INSERT INTO item (id, title) VALUES (9, 'z')");
            assertEquals(List.of("1|item"), captured(c, after));
        }
    }

    @Test
    void quotedNamesWithSpacesAreFollowed() throws Exception {
        try (Connection c = DriverManager.getConnection(url("spaces")); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE \"my item\" (id INTEGER PRIMARY KEY, title TEXT)");
            st.executeUpdate("INSERT INTO \"my item\" VALUES (1, 'a'), (2, 'b')");
            takeSnapshotRequest(c);
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.execute("CREATE TABLE \"new my item\" (id INTEGER PRIMARY KEY, title TEXT NOT NULL)");
            st.executeUpdate("INSERT INTO \"new my item\" SELECT * FROM \"my item\"");
            st.execute("DROP TABLE \"my item\"");
            st.execute("ALTER TABLE \"new my item\" RENAME TO \"my item\"");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of(), captured(c, before));
            assertEquals(List.of("my item"), rows(c, "SELECT name FROM _sync_tables"));
            assertFalse(snapshotRequested(c), "no column gained");
            st.executeUpdate("UPDATE \"my item\" SET title = 'x' WHERE id = 2");
            assertEquals(List.of("2|my item"), captured(c, before));
        }
    }

    @Test
    void preparedStatementsForTheStepsAndASecondConnectionAfterwards() throws Exception {
        try (Connection c = open("prepared")) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            for (String sql : new String[] {NEW_SHAPE, COPY, "DROP TABLE item", "ALTER TABLE new_item RENAME TO item"}) {
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    ps.execute();
                }
            }
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of(), captured(c, before));
            try (Connection d = DriverManager.getConnection(url("prepared")); Statement st = d.createStatement()) {
                st.executeUpdate("INSERT INTO item (id, title, qty, note) VALUES (3, 'c', 3, 'n')");
                assertEquals(List.of("1|item"), captured(d, before));
                assertEquals(ITEM_TRIGGERS, syncTriggers(d));
            }
        }
        // reopened from scratch (the node closed): the capture installed at open does not backfill item again
        try (Connection c = DriverManager.getConnection(url("prepared"))) {
            assertEquals(List.of("1|item", "1|item", "1|item"), captured(c, 0)); // 1, 2 at the start, then 3
            assertEquals(ITEM_TRIGGERS, syncTriggers(c));
        }
    }

    @Test
    void aDroppedColumnOrAnotherKeyIsNotFollowedAndTheRenameSaysWhy() throws Exception {
        String[][] cases = {
                {"CREATE TABLE new_item (id INTEGER PRIMARY KEY, title TEXT)",
                        "INSERT INTO new_item SELECT id, title FROM item", "lacks qty"},
                {"CREATE TABLE new_item (id INTEGER, title TEXT, qty INTEGER, PRIMARY KEY (id, title))",
                        "INSERT INTO new_item SELECT * FROM item", "another primary key"},
                {"CREATE TABLE new_item (id INTEGER PRIMARY KEY, title INTEGER, qty INTEGER)",
                        "INSERT INTO new_item SELECT id, 7, qty FROM item", "does not hold the same rows"},
        };
        int n = 0;
        for (String[] k : cases) {
            try (Connection c = open("refused" + n++); Statement st = c.createStatement()) {
                c.setAutoCommit(false);
                st.execute(k[0]);
                st.executeUpdate(k[1]);
                st.execute("DROP TABLE item");
                SQLException e = assertThrows(SQLException.class, () -> st.execute("ALTER TABLE new_item RENAME TO item"));
                assertEquals("SY002", e.getSQLState(), e.getMessage());
                assertTrue(e.getMessage().contains("would end a rebuild of synced table item") && e.getMessage().contains(k[2]),
                        e.getMessage());
                c.rollback();
                c.setAutoCommit(true);
                assertEquals(List.of("1|a|1", "2|b|2"), rows(c, "SELECT * FROM item ORDER BY id"));
            }
        }
    }

    @Test
    void aWithoutRowidCompositeKeyTableRebuiltWithAnAutoincrementNeighbour() throws Exception {
        try (Connection c = DriverManager.getConnection(url("composite")); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE pair (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID");
            st.executeUpdate("INSERT INTO pair VALUES ('x', 1, 'p'), ('y', 2, 'q')");
            st.execute("CREATE TABLE seqd (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)");
            st.executeUpdate("INSERT INTO seqd (v) VALUES ('s')");
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.execute("CREATE TABLE new_pair (a TEXT, b INTEGER, v TEXT, w TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID");
            st.executeUpdate("INSERT INTO new_pair (a, b, v) SELECT a, b, v FROM pair");
            st.execute("CREATE TABLE new_seqd (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT, w TEXT)");
            st.executeUpdate("INSERT INTO new_seqd (id, v) SELECT id, v FROM seqd");
            st.execute("DROP TABLE pair");
            st.execute("DROP TABLE seqd");
            st.execute("ALTER TABLE new_pair RENAME TO pair");
            st.execute("ALTER TABLE new_seqd RENAME TO seqd");
            st.executeUpdate("UPDATE pair SET w = 'w' WHERE a = 'x'");
            st.executeUpdate("INSERT INTO seqd (v) VALUES ('t')");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("2|pair", "1|seqd"), captured(c, before));
            assertEquals(List.of("pair", "seqd"), rows(c, "SELECT name FROM _sync_tables ORDER BY 1"));
        }
    }

    @Test
    void aChildTableReferencingItemStillPointsAtItAndBothCapture() throws Exception {
        try (Connection c = open("child"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE child (id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES item (id))");
            st.executeUpdate("INSERT INTO child VALUES (10, 1)");
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.execute("PRAGMA foreign_keys = OFF"); // as the documented procedure says (no-op inside a transaction)
            st.execute(NEW_SHAPE);
            st.executeUpdate(COPY);
            st.execute("DROP TABLE item");
            st.execute("ALTER TABLE new_item RENAME TO item");
            assertEquals(List.of(), rows(c, "SELECT * FROM pragma_foreign_key_check"));
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of(), captured(c, before));
            st.executeUpdate("INSERT INTO child VALUES (11, 2)");
            st.executeUpdate("UPDATE item SET note = 'x' WHERE id = 2");
            assertEquals(List.of("1|child", "2|item"), captured(c, before));
            assertTrue(rows(c, "SELECT sql FROM sqlite_schema WHERE name = 'child'").get(0).contains("REFERENCES item"));
        }
    }

    @Test
    void aFullRollbackLeavesTheTableSyncedAndTheConnectionUsable() throws Exception {
        try (Connection c = open("rollback"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.execute(NEW_SHAPE);
            st.executeUpdate(COPY);
            st.execute("DROP TABLE item");
            st.execute("ALTER TABLE new_item RENAME TO item");
            c.rollback();
            // again, in the same JDBC transaction mode, then committed
            st.execute(NEW_SHAPE);
            st.executeUpdate(COPY);
            st.execute("DROP TABLE item");
            st.execute("ALTER TABLE new_item RENAME TO item");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of(), captured(c, before));
            st.executeUpdate("DELETE FROM item WHERE id = 1");
            assertEquals(List.of("3|item"), captured(c, before));
            assertEquals(ITEM_TRIGGERS, syncTriggers(c));
        }
    }

    @Test
    void aSnapshotRequestOfAnotherNewTableIsNotWithdrawnByTheRename() throws Exception {
        try (Connection c = open("snapshot"); Statement st = c.createStatement()) {
            takeSnapshotRequest(c);
            c.setAutoCommit(false);
            st.execute("CREATE TABLE new_item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER)"); // same columns
            st.executeUpdate("INSERT INTO new_item SELECT * FROM item");
            st.execute("DROP TABLE item");
            st.execute("CREATE TABLE other (id INTEGER PRIMARY KEY, v TEXT)"); // a new synced table: wants a snapshot
            st.execute("ALTER TABLE new_item RENAME TO item");
            c.commit();
            c.setAutoCommit(true);
            assertTrue(snapshotRequested(c), "other is a new synced table");
        }
    }

    @Test
    void sqlSavepointReleasedAroundTheRebuildThenCommit() throws Exception {
        try (Connection c = open("release"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            st.execute("SAVEPOINT outer_sp");
            st.executeUpdate("UPDATE item SET qty = 5 WHERE id = 1");
            st.execute("SAVEPOINT inner_sp");
            st.execute(NEW_SHAPE);
            st.executeUpdate(COPY);
            st.execute("DROP TABLE item");
            st.execute("ALTER TABLE new_item RENAME TO item");
            st.execute("RELEASE inner_sp");
            st.execute("RELEASE outer_sp"); // commits
            assertEquals(List.of("2|item"), captured(c, before));
            assertEquals(ITEM_TRIGGERS, syncTriggers(c));
            st.executeUpdate("UPDATE item SET note = 'x' WHERE id = 2");
            assertEquals(List.of("2|item", "2|item"), captured(c, before));
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Findings

    /**
     * A migration that creates an unrelated table (same columns as item, empty) and rebuilds item in the
     * documented order. On a fresh install item is empty too, so at DROP TABLE item both created tables "hold
     * exactly its rows": the drop pairs item with whichever the HashMap yields first (deleted_item here), and the
     * rename of new_item, the real replacement, is refused.
     */
    @Test
    void anUnrelatedEmptyTableCreatedInTheTransactionDoesNotStealTheReplacement() throws Exception {
        try (Connection c = DriverManager.getConnection(url("steal")); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER)"); // empty
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.execute("CREATE TABLE deleted_item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER, deleted_at TEXT)");
            st.execute(NEW_SHAPE);
            st.executeUpdate(COPY);
            st.execute("DROP TABLE item");
            st.execute("ALTER TABLE new_item RENAME TO item"); // must be followed
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("deleted_item", "item"), rows(c, "SELECT name FROM _sync_tables ORDER BY 1"));
            st.executeUpdate("INSERT INTO item (id, title) VALUES (1, 'a')");
            assertEquals(List.of("1|item"), captured(c, before));
        }
    }

    /**
     * Two tables of the same shape (both empty, as on a fresh install) rebuilt together: both drops pair with the
     * same new table (the replacements are keyed by the new table's name, the second overwrites the first), and the
     * rename of the other new table is refused.
     */
    @Test
    void twoTablesOfTheSameShapeRebuiltTogether() throws Exception {
        try (Connection c = DriverManager.getConnection(url("twins")); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)");
            st.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT)");
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.execute("CREATE TABLE new_a (id INTEGER PRIMARY KEY, v TEXT, w TEXT)");
            st.execute("CREATE TABLE new_b (id INTEGER PRIMARY KEY, v TEXT, x TEXT)");
            st.executeUpdate("INSERT INTO new_a (id, v) SELECT id, v FROM a");
            st.executeUpdate("INSERT INTO new_b (id, v) SELECT id, v FROM b");
            st.execute("DROP TABLE a");
            st.execute("DROP TABLE b");
            st.execute("ALTER TABLE new_a RENAME TO a");
            st.execute("ALTER TABLE new_b RENAME TO b");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("a", "b"), rows(c, "SELECT name FROM _sync_tables ORDER BY 1"));
            assertEquals(List.of(), captured(c, before));
        }
    }

    /**
     * The candidate is dropped after item's drop paired with it, and a table of its name created again (empty):
     * the replacement stays keyed by the name and the rename of the new, empty table is followed as a rebuild, so
     * item is taken for the same synced table, now empty, with no delete ever captured for rows 1 and 2 (and no
     * snapshot). Without the stale pairing the rename is refused (SY002), as a rename of a table synced in the
     * transaction.
     */
    @Test
    void aCandidateDroppedAgainEndsTheReplacement() throws Exception {
        try (Connection c = open("dropped"); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            st.execute(NEW_SHAPE);
            st.executeUpdate(COPY);
            st.execute("DROP TABLE item");
            st.execute("DROP TABLE new_item");
            st.execute(NEW_SHAPE); // empty this time
            SQLException e = assertThrows(SQLException.class, () -> st.execute("ALTER TABLE new_item RENAME TO item"),
                    "an empty table renamed to item would be taken for item with its rows 1 and 2, never deleted");
            assertEquals("SY002", e.getSQLState(), e.getMessage());
            c.rollback();
        }
    }

    /**
     * ROLLBACK TO a savepoint taken after the drop undoes only the rename: the drop and the pairing still hold, so
     * the rename run again must be followed. The replacement was removed from the map at the first rename and the
     * rollback does not bring it back: the second rename is refused.
     */
    @Test
    void aRollbackToThatUndidOnlyTheRenameLetsTheRenameRunAgain() throws Exception {
        try (Connection c = open("rerename"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.execute(NEW_SHAPE);
            st.executeUpdate(COPY);
            st.execute("DROP TABLE item");
            Savepoint sp = c.setSavepoint("renamed");
            st.execute("ALTER TABLE new_item RENAME TO item");
            c.rollback(sp);
            st.execute("ALTER TABLE new_item RENAME TO item");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of(), captured(c, before));
            assertEquals(List.of("item"), rows(c, "SELECT name FROM _sync_tables"));
        }
    }

    /** The same with SQL: BEGIN, SAVEPOINT, ROLLBACK TO, COMMIT. */
    @Test
    void sqlRollbackToThatUndidOnlyTheRenameLetsTheRenameRunAgain() throws Exception {
        try (Connection c = open("sqlrerename"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            st.execute("BEGIN");
            st.execute(NEW_SHAPE);
            st.executeUpdate(COPY);
            st.execute("DROP TABLE item");
            st.execute("SAVEPOINT renamed");
            st.execute("ALTER TABLE new_item RENAME TO item");
            st.execute("ROLLBACK TO renamed");
            st.execute("ALTER TABLE new_item RENAME TO item");
            st.execute("COMMIT");
            assertEquals(List.of(), captured(c, before));
        }
    }

    /**
     * The steps as one executeBatch in the application's transaction. The batch's ALTER is checked before it runs,
     * when new_item does not exist yet (so it is not refused), and the entries run with no replacement followed: the
     * DROP removes item's record, the rename makes item a new table (backfilled: its rows sent again as inserts),
     * and the copy stays in the outbox under new_item, a table that no longer exists anywhere. Either the batch is
     * refused (SY002): run alone, the statements are followed.
     */
    @Test
    void theStepsAsOneBatchAreRefusedAndLeaveNothing() throws Exception {
        try (Connection c = open("batch"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.addBatch(NEW_SHAPE);
            st.addBatch(COPY);
            st.addBatch("DROP TABLE item");
            st.addBatch("ALTER TABLE new_item RENAME TO item");
            refusedAndNothingLeft(c, before, List.of("1|a|1", "2|b|2"), st::executeBatch);
        }
    }

    /**
     * With sync.tables=item the new table is not synced, so it has no triggers: an UPDATE of new_item between the
     * drop and the rename is captured nowhere, and the rename's check (rows of new_item in the outbox after the drop)
     * sees nothing. The rename is followed and the changed title never reaches the server.
     */
    @Test
    void withSyncTablesAWriteBetweenTheDropAndTheRenameIsNotLost() throws Exception {
        String url = "jdbc:syncsqlite:" + dir.resolve("configured.db") + "?sync.lingerMs=0&sync.tables=item";
        try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER)");
            st.executeUpdate("INSERT INTO item (id, title, qty) VALUES (1, 'a', 1), (2, 'b', 2)");
            assertEquals(List.of("item"), rows(c, "SELECT name FROM _sync_tables"));
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.execute(NEW_SHAPE);
            st.executeUpdate(COPY);
            st.execute("DROP TABLE item");
            st.executeUpdate("UPDATE new_item SET title = 'changed' WHERE id = 1");
            // followed, 'changed' would be captured nowhere and the server would keep 'a'
            refusedAndNothingLeft(c, before, List.of("1|a|1", "2|b|2"), () -> st.execute("ALTER TABLE new_item RENAME TO item"));
        }
    }

    /**
     * The copy transforms values (upper()) in a column declared COLLATE NOCASE: the EXCEPT that checks "exactly
     * t's rows" compares with the columns' collation, so 'a' and 'A' are the same row, the drop pairs, the rename
     * is followed and the copy is taken out of the outbox: the server keeps 'a', 'b' while the file has 'A', 'B'.
     */
    @Test
    void aCopyThatChangesLetterCaseInANocaseColumnIsNotTakenForTheSameRows() throws Exception {
        try (Connection c = DriverManager.getConnection(url("nocase")); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT COLLATE NOCASE, qty INTEGER)");
            st.executeUpdate("INSERT INTO item (id, title, qty) VALUES (1, 'a', 1), (2, 'b', 2)");
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.execute("CREATE TABLE new_item (id INTEGER PRIMARY KEY, title TEXT COLLATE NOCASE, qty INTEGER, note TEXT)");
            st.executeUpdate("INSERT INTO new_item (id, title, qty) SELECT id, upper(title), qty FROM item");
            st.execute("DROP TABLE item");
            // followed, the upper-cased titles would be captured nowhere
            refusedAndNothingLeft(c, before, List.of("1|a|1", "2|b|2"), () -> st.execute("ALTER TABLE new_item RENAME TO item"));
        }
    }
}
