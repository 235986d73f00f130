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
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of the table rebuild (rename away, create anew, copy, drop) followed in the application's transaction.
 * Real SQLite files through the driver, no relay; plain sqlite-jdbc for comparison where useful.
 */
class TableRebuildReviewTest {

    private static final String NEW_SHAPE = "CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER, note TEXT)";

    @TempDir
    Path dir;

    private String url(String name) {
        return "jdbc:syncsqlite:" + dir.resolve(name + ".db") + "?sync.lingerMs=0";
    }

    private Connection reopen(String name) throws SQLException {
        return DriverManager.getConnection(url(name));
    }

    private Connection open(String name) throws SQLException {
        Connection c = reopen(name);
        try (Statement st = c.createStatement()) {
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER)");
            st.executeUpdate("INSERT INTO item (id, title, qty) VALUES (1, 'a', 1), (2, 'b', 2)");
        }
        return c;
    }

    /** op of each captured row of {@code tbl} after {@code before}, anchors left out. */
    private static List<String> ops(Connection c, String tbl, long before) throws SQLException {
        return rows(c, "SELECT op FROM _sync_outbox WHERE seq > " + before + " AND op <> 0 AND tbl = '" + tbl
                + "' COLLATE NOCASE ORDER BY seq");
    }

    private static List<String> syncTriggers(Connection c) throws SQLException {
        return rows(c, "SELECT name || '@' || tbl_name FROM sqlite_schema WHERE type = 'trigger'"
                + " AND name LIKE '\\_sync\\_%' ESCAPE '\\' ORDER BY 1");
    }

    private static void rebuild(Statement st, String renamedTo, String create, String copy) throws SQLException {
        st.execute("ALTER TABLE item RENAME TO " + renamedTo);
        st.execute(create);
        st.executeUpdate(copy);
        st.execute("DROP TABLE " + renamedTo);
    }

    /** After commit: an insert, update and delete of item are each captured once. */
    private static void assertCaptures(Connection c, String table) throws SQLException {
        long before = outboxEnd(c);
        try (Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO " + table + " (id, title, qty) VALUES (50, 'z', 5)");
            st.executeUpdate("UPDATE " + table + " SET qty = 6 WHERE id = 50");
            st.executeUpdate("DELETE FROM " + table + " WHERE id = 50");
        }
        assertEquals(List.of("1", "2", "3"), ops(c, table, before));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Writes lost from sync

    /**
     * The copy is partial: row 2 of the old table is not copied, so it is gone locally, but its delete is never
     * captured (the copy's outbox rows are all taken out and nothing is logged for what was not copied). The
     * remote keeps row 2 forever. Either the delete must be captured, or the drop refused.
     */
    @Test
    void aPartialCopyLosesTheDeleteOfTheRowsNotCopied() throws Exception {
        try (Connection c = open("partial"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            SQLException refused = null;
            try {
                rebuild(st, "item_tmp", NEW_SHAPE,
                        "INSERT INTO item (id, title, qty) SELECT id, title, qty FROM item_tmp WHERE id = 1");
                c.commit();
            } catch (SQLException e) {
                refused = e;
                c.rollback();
            }
            c.setAutoCommit(true);
            if (refused != null) {
                assertEquals("SY002", refused.getSQLState(), refused.getMessage());
                assertEquals(List.of("1|a|1", "2|b|2"), rows(c, "SELECT id, title, qty FROM item ORDER BY id"));
                return;
            }
            assertEquals(List.of("1|a|1|null"), rows(c, "SELECT * FROM item ORDER BY id"));
            assertTrue(ops(c, "item", before).contains("3"),
                    "row 2 is gone locally but no delete was captured: " + ops(c, "item", before));
        }
    }

    /**
     * A delete of a copied row between CREATE and DROP (before the old table is dropped): it must be sent, or the drop
     * refused (it is: the new table no longer holds the old table's rows) with nothing lost.
     */
    @Test
    void aDeleteBetweenCreateAndDropIsNotLost() throws Exception {
        try (Connection c = open("deletemid"); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            st.execute("ALTER TABLE item RENAME TO item_tmp");
            st.execute(NEW_SHAPE);
            st.executeUpdate("INSERT INTO item (id, title, qty) SELECT id, title, qty FROM item_tmp");
            st.executeUpdate("DELETE FROM item WHERE id = 2");
            SQLException e = assertThrows(SQLException.class, () -> st.execute("DROP TABLE item_tmp"));
            assertEquals("SY002", e.getSQLState(), e.getMessage());
            c.rollback();
            c.setAutoCommit(true);
            assertEquals(List.of("1|a|1", "2|b|2"), rows(c, "SELECT id, title, qty FROM item ORDER BY id"));
            assertCaptures(c, "item");
        }
    }

    /**
     * The copy transforms a value (a data migration in the same rebuild): the new value must be sent, or the drop
     * refused (it is) with nothing lost; the same change after the drop is captured.
     */
    @Test
    void aCopyThatChangesValuesIsRefusedAndTheChangeAfterTheDropIsSent() throws Exception {
        try (Connection c = open("transform"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            SQLException e = assertThrows(SQLException.class, () -> rebuild(st, "item_tmp", NEW_SHAPE,
                    "INSERT INTO item (id, title, qty) SELECT id, upper(title), qty FROM item_tmp"));
            assertEquals("SY002", e.getSQLState(), e.getMessage());
            c.rollback();
            rebuild(st, "item_tmp", NEW_SHAPE, "INSERT INTO item (id, title, qty) SELECT id, title, qty FROM item_tmp");
            st.executeUpdate("UPDATE item SET title = upper(title)");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("1|A|1|null", "2|B|2|null"), rows(c, "SELECT * FROM item ORDER BY id"));
            assertEquals(List.of("2", "2"), ops(c, "item", before), "the new titles A and B are captured");
        }
    }

    /** Changes before the rename (same transaction) stay; writes after the drop are captured; survives a reopen. */
    @Test
    void writesBeforeTheRenameAndAfterTheDropAreCaptured() throws Exception {
        try (Connection c = open("around"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.executeUpdate("INSERT INTO item (id, title, qty) VALUES (3, 'c', 3)");
            st.executeUpdate("DELETE FROM item WHERE id = 2");
            rebuild(st, "item_tmp", NEW_SHAPE, "INSERT INTO item (id, title, qty) SELECT id, title, qty FROM item_tmp");
            st.executeUpdate("UPDATE item SET note = 'n' WHERE id = 1");
            st.executeUpdate("INSERT INTO item (id, title, qty, note) VALUES (4, 'd', 4, 'x')");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("1", "3", "2", "1"), ops(c, "item", before));
            assertEquals("1", rows(c, "SELECT count(*) FROM _sync_outbox WHERE seq = (SELECT max(seq) FROM _sync_outbox"
                    + " WHERE seq <= (SELECT max(seq) FROM _sync_outbox WHERE tbl = 'item' AND op = 1 AND hlc IS NOT NULL))"
                    + " AND hlc IS NOT NULL").get(0), "the transaction stamped");
            assertEquals(List.of("item"), rows(c, "SELECT name FROM _sync_tables"));
            assertEquals(List.of("_sync_del_item@item", "_sync_ins_item@item", "_sync_key_item@item",
                    "_sync_upd_item@item"), syncTriggers(c));
            assertCaptures(c, "item");
        }
        try (Connection c = reopen("around")) {
            assertEquals(List.of("item"), rows(c, "SELECT name FROM _sync_tables"));
            assertCaptures(c, "item");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Savepoints

    /**
     * The drop ended the rebuild (forgotten by the driver), then ROLLBACK TO a savepoint taken after the rename
     * brings the renamed table back and takes the new table away: the transaction now holds exactly the rename the
     * driver refuses, yet the commit goes through. The synced table is gone, its rows live on under another name.
     */
    @Test
    void aRollbackToAfterTheDropBringsTheRenameBackAndTheCommitIsNotRefused() throws Exception {
        try (Connection c = open("sp-after"); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            st.execute("ALTER TABLE item RENAME TO item_tmp");
            st.execute("SAVEPOINT s");
            st.execute(NEW_SHAPE);
            st.executeUpdate("INSERT INTO item (id, title, qty) SELECT id, title, qty FROM item_tmp");
            st.execute("DROP TABLE item_tmp");
            st.execute("ROLLBACK TO s");
            SQLException e = assertThrows(SQLException.class, c::commit,
                    "committed a rename of synced table item: " + rows(c,
                            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'item%'"));
            assertEquals("SY002", e.getSQLState(), e.getMessage());
            c.rollback();
            c.setAutoCommit(true);
            assertEquals(List.of("1|a|1", "2|b|2"), rows(c, "SELECT * FROM item ORDER BY id"));
        }
    }

    /** The rename inside a savepoint rolled back: the commit goes through and item captures as before. */
    @Test
    void aRenameRolledBackToASavepointLeavesTheTableSynced() throws Exception {
        try (Connection c = open("sp-rename"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.executeUpdate("UPDATE item SET qty = 11 WHERE id = 1");
            st.execute("SAVEPOINT s");
            st.execute("ALTER TABLE item RENAME TO item_tmp");
            st.execute("ROLLBACK TO s");
            st.execute("RELEASE s");
            st.executeUpdate("UPDATE item SET qty = 12 WHERE id = 2");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("2", "2"), ops(c, "item", before));
            assertEquals(List.of("_sync_del_item@item", "_sync_ins_item@item", "_sync_key_item@item",
                    "_sync_upd_item@item"), syncTriggers(c));
            assertCaptures(c, "item");
        }
    }

    /** The whole rebuild rolled back to a savepoint before the rename: the earlier update is kept, item synced. */
    @Test
    void aWholeRebuildRolledBackToASavepointKeepsTheEarlierWrites() throws Exception {
        try (Connection c = open("sp-whole"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.executeUpdate("UPDATE item SET qty = 11 WHERE id = 1");
            Savepoint sp = c.setSavepoint("s");
            rebuild(st, "item_tmp", NEW_SHAPE, "INSERT INTO item (id, title, qty) SELECT id, title, qty FROM item_tmp");
            c.rollback(sp);
            st.executeUpdate("UPDATE item SET qty = 12 WHERE id = 2");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("1|a|11", "2|b|12"), rows(c, "SELECT * FROM item ORDER BY id"));
            assertEquals(List.of("2", "2"), ops(c, "item", before));
            assertCaptures(c, "item");
        }
    }

    /**
     * A rename rolled back to a savepoint leaves its rebuild in the driver: a later scratch table of that name,
     * dropped, "ends" it and takes item's outbox rows written since the rename (here an update) out.
     */
    @Test
    void aRebuildUndoneByRollbackToIsNotForgottenAndLaterEatsWrites() throws Exception {
        try (Connection c = open("sp-stale"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.execute("SAVEPOINT s");
            st.execute("ALTER TABLE item RENAME TO scratch");
            st.execute("ROLLBACK TO s");
            st.executeUpdate("UPDATE item SET qty = 99 WHERE id = 1");
            st.execute("CREATE TABLE scratch (a TEXT)");
            st.execute("DROP TABLE scratch");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("1|a|99", "2|b|2"), rows(c, "SELECT * FROM item ORDER BY id"));
            assertEquals(List.of("2"), ops(c, "item", before), "the update of row 1 was taken out of the outbox");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Shapes

    @Test
    void twoTablesRebuiltInOneTransaction() throws Exception {
        try (Connection c = open("two"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE tag (k TEXT PRIMARY KEY, v INTEGER)");
            st.executeUpdate("INSERT INTO tag VALUES ('x', 1)");
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.execute("ALTER TABLE item RENAME TO item_tmp");
            st.execute("ALTER TABLE tag RENAME TO tag_tmp");
            st.execute(NEW_SHAPE);
            st.execute("CREATE TABLE tag (k TEXT PRIMARY KEY, v INTEGER, w TEXT)");
            st.executeUpdate("INSERT INTO item (id, title, qty) SELECT id, title, qty FROM item_tmp");
            st.executeUpdate("INSERT INTO tag (k, v) SELECT k, v FROM tag_tmp");
            st.execute("DROP TABLE item_tmp");
            st.execute("DROP TABLE tag_tmp");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of(), rows(c, "SELECT op, tbl FROM _sync_outbox WHERE seq > " + before + " AND op <> 0"));
            assertEquals(List.of("item", "tag"), rows(c, "SELECT name FROM _sync_tables ORDER BY 1"));
            assertCaptures(c, "item");
            long b2 = outboxEnd(c);
            st.executeUpdate("UPDATE tag SET w = 'q'");
            assertEquals(List.of("2"), ops(c, "tag", b2));
        }
    }

    /** New shape with a UNIQUE column: eviction triggers on the new table, none on anything else. */
    @Test
    void aRebuildThatAddsAUniqueColumn() throws Exception {
        try (Connection c = open("unique"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            rebuild(st, "item_tmp", "CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER, code TEXT UNIQUE)",
                    "INSERT INTO item (id, title, qty, code) SELECT id, title, qty, 'c' || id FROM item_tmp");
            c.commit();
            c.setAutoCommit(true);
            assertTrue(syncTriggers(c).stream().allMatch(t -> t.endsWith("@item")), syncTriggers(c).toString());
            assertTrue(syncTriggers(c).stream().anyMatch(t -> t.startsWith("_sync_evi_item")), syncTriggers(c).toString());
            assertTrue(ops(c, "item", before).isEmpty());
            // REPLACE evicting row 2 by its code: the delete of 2 and the insert of 3 are captured
            long b2 = outboxEnd(c);
            st.executeUpdate("INSERT OR REPLACE INTO item (id, title, qty, code) VALUES (3, 'c', 3, 'c2')");
            assertEquals(List.of("1|a|1|c1", "3|c|3|c2"), rows(c, "SELECT * FROM item ORDER BY id"));
            assertTrue(ops(c, "item", b2).contains("3") && ops(c, "item", b2).contains("1"), ops(c, "item", b2).toString());
            assertCaptures(c, "item");
        }
    }

    @Test
    void aWithoutRowidTextKeyTableRebuilt() throws Exception {
        try (Connection c = reopen("wr"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE kv (\"ID\" TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID");
            st.executeUpdate("INSERT INTO kv VALUES ('a', 1), ('b', 2)");
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.execute("ALTER TABLE kv RENAME TO \"KV_Old\"");
            st.execute("CREATE TABLE KV (id TEXT NOT NULL, v INTEGER, extra BLOB, PRIMARY KEY (id))"); // rowid now
            st.executeUpdate("INSERT INTO KV (id, v) SELECT \"ID\", v FROM kv_old");
            st.execute("DROP TABLE main.kv_old");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of(), ops(c, "kv", before));
            long b2 = outboxEnd(c);
            st.executeUpdate("INSERT INTO kv (id, v) VALUES ('c', 3)");
            st.executeUpdate("UPDATE kv SET extra = x'01' WHERE id = 'a'");
            st.executeUpdate("DELETE FROM kv WHERE id = 'b'");
            assertEquals(List.of("1", "2", "3"), ops(c, "kv", b2));
            assertEquals(List.of("_sync_del_kv@kv", "_sync_ins_kv@kv", "_sync_key_kv@kv", "_sync_upd_kv@kv"),
                    syncTriggers(c).stream().map(String::toLowerCase).toList());
        }
        try (Connection c = reopen("wr")) {
            long b3 = outboxEnd(c);
            try (Statement st = c.createStatement()) {
                st.executeUpdate("UPDATE kv SET v = 9 WHERE id = 'a'");
            }
            assertEquals(List.of("2"), ops(c, "kv", b3));
        }
    }

    /**
     * The table created anew under the synced name in another case (ITEM for item): the driver keeps item's
     * record and adds one for ITEM as for a new table, and after the commit _sync_tables holds both.
     */
    @Test
    void aTableCreatedAnewInAnotherCaseLeavesOneRecord() throws Exception {
        List<String> atCommit;
        try (Connection c = open("case"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            rebuild(st, "item_tmp", "CREATE TABLE ITEM (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER, note TEXT)",
                    "INSERT INTO item (id, title, qty) SELECT id, title, qty FROM item_tmp");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of(), ops(c, "item", before));
            assertCaptures(c, "item");
            atCommit = rows(c, "SELECT name FROM _sync_tables ORDER BY 1");
        }
        try (Connection c = reopen("case")) {
            assertEquals(List.of("ITEM"), rows(c, "SELECT name FROM _sync_tables"), "after reopen");
            assertEquals(List.of("ITEM"), atCommit, "after the commit");
            assertCaptures(c, "item");
        }
    }

    /** ALTER TABLE main.t RENAME TO "Quoted", DROP TABLE IF EXISTS main."quoted", in SQL BEGIN ... COMMIT. */
    @Test
    void aSchemaQualifiedRenameToAQuotedNameInSqlBegin() throws Exception {
        try (Connection c = open("quoted"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            st.execute("BEGIN");
            st.execute("ALTER TABLE main.item RENAME TO \"Item Tmp\"");
            st.execute(NEW_SHAPE);
            st.executeUpdate("INSERT INTO item (id, title, qty) SELECT id, title, qty FROM \"item tmp\"");
            st.execute("DROP TABLE IF EXISTS main.\"ITEM TMP\"");
            st.execute("COMMIT");
            assertEquals(List.of(), ops(c, "item", before));
            assertEquals(List.of("item"), rows(c, "SELECT name FROM _sync_tables"));
            assertCaptures(c, "item");
        }
    }

    /** In SQL BEGIN, COMMIT of an unfinished rebuild is refused and the transaction stays open. */
    @Test
    void sqlCommitOfAnUnfinishedRebuildIsRefused() throws Exception {
        try (Connection c = open("sqlcommit"); Statement st = c.createStatement()) {
            st.execute("BEGIN");
            st.execute("ALTER TABLE item RENAME TO item_tmp");
            SQLException e = assertThrows(SQLException.class, () -> st.execute("COMMIT"));
            assertEquals("SY002", e.getSQLState(), e.getMessage());
            st.execute("ROLLBACK");
            assertEquals(List.of("1|a|1", "2|b|2"), rows(c, "SELECT * FROM item ORDER BY id"));
            assertCaptures(c, "item");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Foreign keys: compared with plain sqlite-jdbc

    private List<String> fkRebuild(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER)");
            st.execute("CREATE TABLE line (id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES item (id))");
            st.executeUpdate("INSERT INTO item VALUES (1, 'a', 1)");
            st.executeUpdate("INSERT INTO line VALUES (1, 1)");
            c.setAutoCommit(false);
            rebuild(st, "item_tmp", NEW_SHAPE, "INSERT INTO item (id, title, qty) SELECT id, title, qty FROM item_tmp");
            c.commit();
            c.setAutoCommit(true);
            return rows(c, "SELECT sql FROM sqlite_schema WHERE name = 'line'");
        }
    }

    @Test
    void aReferencedTableRebuiltLeavesTheChildAsPlainSqliteDoes() throws Exception {
        List<String> plain;
        try (Connection p = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("fk-plain.db"))) {
            plain = fkRebuild(p);
        }
        try (Connection c = reopen("fk")) {
            assertEquals(plain, fkRebuild(c));
            assertEquals(List.of("item", "line"), rows(c, "SELECT name FROM _sync_tables ORDER BY 1"));
            long before = outboxEnd(c);
            try (Statement st = c.createStatement()) {
                st.executeUpdate("UPDATE line SET item_id = 2 WHERE id = 1");
            }
            assertEquals(List.of("2"), ops(c, "line", before));
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Forms the rebuild is not followed in

    /** The whole rebuild in one string: refused cleanly, nothing half done, the transaction still usable. */
    @Test
    void aRebuildInOneStringIsRefusedWithNothingDone() throws Exception {
        try (Connection c = open("onestring"); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            SQLException e = assertThrows(SQLException.class, () -> st.executeUpdate(
                    "ALTER TABLE item RENAME TO item_tmp; " + NEW_SHAPE + "; "
                            + "INSERT INTO item (id, title, qty) SELECT id, title, qty FROM item_tmp; DROP TABLE item_tmp"));
            assertEquals("SY002", e.getSQLState(), e.getMessage());
            assertEquals(List.of("item"), rows(c,
                    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'item%'"));
            st.executeUpdate("UPDATE item SET qty = 3 WHERE id = 1");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("1|a|3", "2|b|2"), rows(c, "SELECT * FROM item ORDER BY id"));
            assertCaptures(c, "item");
        }
    }

    @Test
    void aPreparedRenameBeginsARebuild() throws Exception {
        try (Connection c = open("prepared"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("ALTER TABLE item RENAME TO item_tmp")) {
                ps.execute();
            }
            st.execute(NEW_SHAPE);
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO item (id, title, qty) SELECT id, title, qty FROM item_tmp")) {
                ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement("DROP TABLE item_tmp")) {
                ps.executeUpdate();
            }
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of(), ops(c, "item", before));
            assertCaptures(c, "item");
        }
    }

    @Test
    void setAutoCommitTrueWhileUnfinishedIsRefused() throws Exception {
        try (Connection c = open("setauto"); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            st.execute("ALTER TABLE item RENAME TO item_tmp");
            SQLException e = assertThrows(SQLException.class, () -> c.setAutoCommit(true));
            assertEquals("SY002", e.getSQLState(), e.getMessage());
            assertFalse(c.getAutoCommit());
            st.execute(NEW_SHAPE);
            st.executeUpdate("INSERT INTO item (id, title, qty) SELECT id, title, qty FROM item_tmp");
            st.execute("DROP TABLE item_tmp");
            c.setAutoCommit(true); // commits
            assertEquals(List.of("1|a|1|null", "2|b|2|null"), rows(c, "SELECT * FROM item ORDER BY id"));
            assertCaptures(c, "item");
        }
    }

    @Test
    void closeWhileUnfinishedRollsBack() throws Exception {
        try (Connection c = open("close"); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            st.execute("ALTER TABLE item RENAME TO item_tmp");
            st.execute(NEW_SHAPE);
        }
        try (Connection c = reopen("close")) {
            assertEquals(List.of("item"), rows(c,
                    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'item%'"));
            assertEquals(List.of("1|a|1", "2|b|2"), rows(c, "SELECT * FROM item ORDER BY id"));
            assertCaptures(c, "item");
        }
    }

    /**
     * Renamed twice (item -> a -> b): the rebuild is filed under a, which no longer exists, so the commit is let
     * through; item is rebuilt and synced, but the drop of b is no rebuild's end and the copy is captured (sent
     * again with a new clock, what the feature set out to avoid). Either follow the second rename or refuse it.
     */
    @Test
    void aRenamedTableRenamedAgainIsFollowedOrRefused() throws Exception {
        try (Connection c = open("twice"); Statement st = c.createStatement()) {
            long before = outboxEnd(c);
            c.setAutoCommit(false);
            st.execute("ALTER TABLE item RENAME TO item_a");
            SQLException refused = null;
            try {
                st.execute("ALTER TABLE item_a RENAME TO item_b");
            } catch (SQLException e) {
                refused = e;
            }
            if (refused != null) {
                assertEquals("SY002", refused.getSQLState(), refused.getMessage());
                c.rollback();
                return;
            }
            st.execute(NEW_SHAPE);
            st.executeUpdate("INSERT INTO item (id, title, qty) SELECT id, title, qty FROM item_b");
            st.execute("DROP TABLE item_b");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of(), ops(c, "item", before), "the copy was captured");
        }
    }
}
