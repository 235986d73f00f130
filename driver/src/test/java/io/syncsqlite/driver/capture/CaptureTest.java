package io.syncsqlite.driver.capture;

import io.syncsqlite.driver.jdbc.SyncConnection;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Capture and stamping against real SQLite files, with no relay configured. */
class CaptureTest {

    @TempDir
    Path dir;
    private String url;
    private Connection conn;

    @BeforeEach
    void open() throws SQLException {
        url = "jdbc:syncsqlite:" + dir.resolve("app.db") + "?sync.lingerMs=0";
        conn = DriverManager.getConnection(url);
        exec("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER, data BLOB)");
    }

    @AfterEach
    void close() throws SQLException {
        conn.close();
    }

    private void exec(String sql) throws SQLException {
        try (Statement st = conn.createStatement()) {
            st.execute(sql);
        }
    }

    /** Outbox rows as "op:pk:vals:changed" strings, decoded as the sync client reads them, in order (stamps left out). */
    private List<String> outbox() throws SQLException {
        return outbox(conn);
    }

    static List<String> outbox(Connection conn) throws SQLException {
        List<String> out = new ArrayList<>();
        OutboxDecoder decoder = new OutboxDecoder(conn);
        try (Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("SELECT " + OutboxDecoder.COLUMNS + " FROM _sync_outbox ORDER BY seq")) {
            while (rs.next()) {
                OutboxDecoder.Captured c = decoder.decode(rs, 1);
                out.add(c.op() + ":" + c.pk() + ":" + (c.op() == Outbox.OP_DELETE ? null : c.values()) + ":" + c.changed());
            }
        }
        return out;
    }

    /** Stamped transactions as [id, hlc, last outbox seq]: the marker row is the transaction's last row. */
    private List<long[]> txs() throws SQLException {
        List<long[]> out = new ArrayList<>();
        try (Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("SELECT seq, hlc, seq FROM _sync_outbox WHERE hlc IS NOT NULL ORDER BY seq")) {
            while (rs.next()) {
                out.add(new long[]{rs.getLong(1), rs.getLong(2), rs.getLong(3)});
            }
        }
        return out;
    }

    @Test
    void autoCommitWritesAreCapturedAndStampedOncePerStatement() throws SQLException {
        exec("INSERT INTO item (id, title, qty) VALUES (1, 'a', 5)");
        exec("UPDATE item SET qty = 6 WHERE id = 1");
        exec("DELETE FROM item WHERE id = 1");
        assertEquals(List.of(
                "1:{\"id\":1}:{\"id\":1,\"title\":\"a\",\"qty\":5,\"data\":null}:null",
                "2:{\"id\":1}:{\"id\":1,\"title\":null,\"qty\":6,\"data\":null}:0010",
                "3:{\"id\":1}:null:null"), outbox());
        List<long[]> txs = txs();
        assertEquals(3, txs.size());
        assertTrue(txs.get(0)[1] < txs.get(1)[1] && txs.get(1)[1] < txs.get(2)[1], "HLCs increase");
        assertEquals(List.of(1L, 2L, 3L), txs.stream().map(t -> t[2]).toList());
    }

    /**
     * Wide tables are captured: a row image of more than 50 columns is built without {@code json_object}
     * (sqlite-jdbc's SQLite takes at most 100 arguments a call: such a table could not be created through
     * the driver), and 400 columns do not nest the triggers' expressions past SQLite's depth of 1000. Both
     * sides of the boundary; the change mask names the first, a middle and the last column.
     */
    @Test
    void theChangeMaskNamesEveryColumnOfAWideTable() throws SQLException {
        for (int width : new int[]{50, 51, 400}) {
            StringBuilder ddl = new StringBuilder("CREATE TABLE wide" + width + " (c0 INTEGER PRIMARY KEY");
            for (int i = 1; i < width; i++) {
                ddl.append(", c").append(i).append(" INTEGER");
            }
            exec(ddl.append(")").toString());
            exec("INSERT INTO wide" + width + " (c0) VALUES (1)");
            exec("UPDATE wide" + width + " SET c" + (width - 1) + " = 7, c31 = 8, c1 = 9 WHERE c0 = 1");
            char[] want = "0".repeat(width).toCharArray();
            want[1] = want[31] = want[width - 1] = '1';
            List<String> rows = outbox();
            String last = rows.get(rows.size() - 1);
            assertEquals(new String(want), last.substring(last.lastIndexOf(':') + 1), width + " columns");
        }
    }

    /** Hibernate's id tables for bulk statements have keys but are not synced by default (PostgreSQL has no such table). */
    @Test
    void hibernateIdTablesAreNotCapturedByDefault() throws SQLException {
        exec("CREATE TABLE HT_item (id INTEGER PRIMARY KEY, title TEXT)");
        exec("CREATE TABLE \"hte_item\" (id INTEGER PRIMARY KEY)");
        exec("CREATE TABLE height (id INTEGER PRIMARY KEY)");
        exec("INSERT INTO HT_item (id) VALUES (1)");
        exec("INSERT INTO hte_item (id) VALUES (1)");
        exec("INSERT INTO height (id) VALUES (1)");
        assertEquals(List.of("1:{\"id\":1}:{\"id\":1}:null"), outbox(), "only height is captured");
    }

    /**
     * Migration tools' history tables (Flyway's, Liquibase's) are each device's own: synced, the relay refused the
     * migration's transaction whole and the client reverted it, the data it wrote with it.
     */
    /**
     * A file whose triggers an earlier driver created unqualified has them created again, as {@code main.}
     * triggers, once when opened, with no row captured again; a temporary table of the synced table's name then
     * leaves them alone (before, the capture moved to the temporary table and main's writes went uncaptured).
     */
    @Test
    void triggersRecordedUnqualifiedAreCreatedAgainOnceWhenOpened() throws SQLException {
        exec("INSERT INTO item (id, title) VALUES (1, 'a')");
        conn.close();
        // SQLite keeps a trigger's text without its schema, so the earlier driver's triggers read as these do; what
        // differs is the text the driver recorded in _sync_tables to notice drift.
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"));
             Statement st = plain.createStatement()) {
            assertEquals(1, st.executeUpdate("UPDATE _sync_tables SET triggers = replace(triggers, 'CREATE TRIGGER main.', 'CREATE TRIGGER ')"
                    + " WHERE triggers LIKE 'CREATE TRIGGER main.%'"));
        }
        conn = DriverManager.getConnection(url);
        try (Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("SELECT (SELECT count(*) FROM main.sqlite_schema WHERE type = 'trigger' AND name LIKE '\\_sync\\_%' ESCAPE '\\'),"
                     + " (SELECT count(*) FROM _sync_tables WHERE triggers LIKE 'CREATE TRIGGER main.%')")) {
            rs.next();
            assertEquals(4, rs.getInt(1));
            assertEquals(1, rs.getInt(2), "recorded as created again");
        }
        assertEquals(List.of("1:{\"id\":1}:{\"id\":1,\"title\":\"a\",\"qty\":null,\"data\":null}:null"), outbox(),
                "nothing captured again");
        exec("CREATE TEMP TABLE item (id INTEGER PRIMARY KEY, title TEXT)");
        exec("INSERT INTO main.item (id, title) VALUES (2, 'b')");
        exec("INSERT INTO temp.item (id, title) VALUES (3, 'temporary')");
        assertEquals(List.of("1:{\"id\":1}:{\"id\":1,\"title\":\"a\",\"qty\":null,\"data\":null}:null",
                "1:{\"id\":2}:{\"id\":2,\"title\":\"b\",\"qty\":null,\"data\":null}:null"), outbox());
    }

    /**
     * Manual-commit mode, as Liquibase runs a changeset: create a table that becomes synced, commit, and write again
     * after another connection (the sync client, here plain sqlite-jdbc) wrote to the file. The driver read the
     * schema after the commit, inside the transaction sqlite-jdbc had already begun, and the write failed with
     * SQLITE_BUSY_SNAPSHOT.
     */
    @Test
    void aWriteAfterCommittingDdlDoesNotMeetTheSchemaReadsSnapshot() throws SQLException {
        for (boolean rollBackFirst : new boolean[] {false, true}) {
            String table = rollBackFirst ? "later" : "fresh";
            conn.setAutoCommit(false);
            exec("CREATE TABLE " + table + " (id INTEGER PRIMARY KEY, v TEXT)");
            if (rollBackFirst) {
                conn.rollback();
                exec("CREATE TABLE " + table + " (id INTEGER PRIMARY KEY, v TEXT)");
            }
            conn.commit();
            try (Connection other = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"));
                 Statement st = other.createStatement()) {
                st.executeUpdate("INSERT INTO item (id, title) VALUES (" + (rollBackFirst ? 21 : 20) + ", 'elsewhere')");
            }
            exec("INSERT INTO " + table + " (id, v) VALUES (1, 'after the commit')");
            conn.commit();
            conn.setAutoCommit(true);
        }
        assertEquals(List.of("1:{\"id\":1}:{\"id\":1,\"v\":\"after the commit\"}:null"),
                outbox().stream().filter(r -> r.contains("after the commit")).distinct().toList());
    }

    @Test
    void migrationHistoryTablesAreNotCapturedByDefault() throws SQLException {
        exec("CREATE TABLE \"flyway_schema_history\" (installed_rank INT NOT NULL PRIMARY KEY, version TEXT)");
        exec("CREATE TABLE DATABASECHANGELOGLOCK (ID INT NOT NULL PRIMARY KEY, LOCKED BOOLEAN)");
        exec("CREATE TABLE databasechangelog_archive (id INTEGER PRIMARY KEY)");
        exec("INSERT INTO flyway_schema_history (installed_rank, version) VALUES (1, '1')");
        exec("INSERT INTO DATABASECHANGELOGLOCK (ID, LOCKED) VALUES (1, 0)");
        exec("INSERT INTO databasechangelog_archive (id) VALUES (1)");
        assertEquals(List.of("1:{\"id\":1}:{\"id\":1}:null"), outbox(), "only the archive table is captured");
    }

    @Test
    void anUpdateThatChangesNothingIsNotAChange() throws SQLException {
        exec("INSERT INTO item (id, title) VALUES (1, 'a')");
        exec("UPDATE item SET title = 'a' WHERE id = 1");
        assertEquals(1, outbox().size());
        assertEquals(1, txs().size());
    }

    @Test
    void explicitTransactionIsOneStampAndRollbackLeavesNothing() throws SQLException {
        conn.setAutoCommit(false);
        exec("INSERT INTO item (id, title) VALUES (1, 'a')");
        exec("INSERT INTO item (id, title) VALUES (2, 'b')");
        conn.commit();
        exec("INSERT INTO item (id, title) VALUES (3, 'c')");
        conn.rollback();
        exec("INSERT INTO item (id, title) VALUES (4, 'd')");
        Savepoint sp = conn.setSavepoint();
        exec("INSERT INTO item (id, title) VALUES (5, 'e')");
        conn.rollback(sp);
        conn.commit();
        conn.setAutoCommit(true);
        List<long[]> txs = txs();
        assertEquals(2, txs.size());
        assertEquals(2, txs.get(0)[2]);
        List<String> rows = outbox();
        assertEquals(3, rows.size());
        assertTrue(rows.get(2).startsWith("1:{\"id\":4}"), rows.get(2));
    }

    @Test
    void sqlTextTransactionsAndSavepointsAreTracked() throws SQLException {
        exec("BEGIN IMMEDIATE");
        exec("INSERT INTO item (id, title) VALUES (1, 'a')");
        exec("INSERT INTO item (id, title) VALUES (2, 'b')");
        exec("COMMIT");
        exec("SAVEPOINT outer_sp");
        exec("INSERT INTO item (id, title) VALUES (3, 'c')");
        exec("SAVEPOINT inner_sp");
        exec("INSERT INTO item (id, title) VALUES (4, 'd')");
        exec("ROLLBACK TO inner_sp");
        exec("RELEASE inner_sp");
        exec("RELEASE outer_sp");
        exec("BEGIN");
        exec("INSERT INTO item (id, title) VALUES (5, 'e')");
        exec("ROLLBACK");
        assertEquals(List.of(2L, 3L), txs().stream().map(t -> t[2]).toList());
        assertEquals(3, outbox().size());
    }

    @Test
    void generatedKeysAndLastInsertRowidSurviveTheStamp() throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement("INSERT INTO item (title) VALUES (?)",
                Statement.RETURN_GENERATED_KEYS)) {
            ps.setString(1, "x");
            assertEquals(1, ps.executeUpdate());
            try (ResultSet keys = ps.getGeneratedKeys()) {
                assertTrue(keys.next());
                assertEquals(1, keys.getLong(1));
            }
        }
        exec("INSERT INTO item (title) VALUES ('y')");
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT last_insert_rowid()")) {
            assertTrue(rs.next());
            assertEquals(2, rs.getLong(1), "Hibernate reads identity ids this way");
        }
    }

    @Test
    void batchesInsertOrReplaceUpsertAndReturningAreCaptured() throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement("INSERT INTO item (id, title) VALUES (?, ?)")) {
            for (int i = 1; i <= 3; i++) {
                ps.setInt(1, i);
                ps.setString(2, "t" + i);
                ps.addBatch();
            }
            assertArrayEquals(new int[]{1, 1, 1}, ps.executeBatch());
        }
        exec("INSERT OR REPLACE INTO item (id, title) VALUES (1, 'replaced')");
        exec("INSERT INTO item (id, title) VALUES (2, 'x') ON CONFLICT (id) DO UPDATE SET title = 'upserted'");
        try (Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("INSERT INTO item (id, title) VALUES (9, 'ret') RETURNING id")) {
            assertTrue(rs.next());
            assertEquals(9, rs.getInt(1));
        }
        List<String> rows = outbox();
        assertEquals(6, rows.size(), rows.toString());
        assertTrue(rows.get(3).contains("replaced"), rows.get(3));
        assertTrue(rows.get(4).contains("upserted") && rows.get(4).startsWith("2:"), rows.get(4));
        assertTrue(rows.get(5).contains("ret"), rows.get(5));
        assertEquals(3, txs().size(), "the batch is one transaction, REPLACE and upsert one each; RETURNING is left to the sync client");
    }

    @Test
    void blobsTravelAsByteaText() throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement("INSERT INTO item (id, data) VALUES (1, ?)")) {
            ps.setBytes(1, new byte[]{(byte) 0xde, (byte) 0xad, 0x01});
            ps.executeUpdate();
        }
        assertTrue(outbox().get(0).contains("\"data\":\"\\\\xDEAD01\""), outbox().get(0));
    }

    @Test
    void primaryKeyChangeIsDeleteThenInsert() throws SQLException {
        exec("INSERT INTO item (id, title) VALUES (1, 'a')");
        exec("UPDATE item SET id = 2 WHERE id = 1");
        List<String> rows = outbox();
        assertTrue(rows.get(1).startsWith("3:{\"id\":1}"), rows.toString());
        assertTrue(rows.get(2).startsWith("1:{\"id\":2}"), rows.toString());
    }

    /**
     * The key trigger fires only for statements whose SET list can change the key: these change it without
     * naming {@code id} (the rowid's names, an upsert, a foreign-key cascade into a composite key).
     */
    @Test
    void keyChangesThatDoNotNameTheKeyColumnAreCaptured() throws SQLException {
        exec("INSERT INTO item (id, title) VALUES (1, 'a')");
        exec("UPDATE item SET rowid = 2 WHERE id = 1");
        exec("UPDATE item SET _ROWID_ = 3 WHERE id = 2");
        exec("UPDATE item SET oid = 4, title = 'b' WHERE id = 3");
        exec("INSERT INTO item (id, title) VALUES (4, 'x') ON CONFLICT (id) DO UPDATE SET id = 5");
        List<String> rows = outbox();
        assertEquals(List.of("3:{\"id\":1}", "1:{\"id\":2}", "3:{\"id\":2}", "1:{\"id\":3}", "3:{\"id\":3}",
                        "1:{\"id\":4}", "3:{\"id\":4}", "1:{\"id\":5}"),
                rows.subList(1, rows.size()).stream().map(r -> r.substring(0, r.indexOf('}') + 1)).toList());
        assertTrue(rows.get(rows.size() - 1).contains("\"title\":\"b\""), rows.toString());

        exec("CREATE TABLE parent (a INTEGER, b TEXT, PRIMARY KEY (a, b))");
        exec("CREATE TABLE child (pa INTEGER, pb TEXT, n INTEGER, PRIMARY KEY (pa, pb, n),"
                + " FOREIGN KEY (pa, pb) REFERENCES parent (a, b) ON UPDATE CASCADE)");
        exec("PRAGMA foreign_keys = ON");
        exec("INSERT INTO parent VALUES (1, 'x')");
        exec("INSERT INTO child VALUES (1, 'x', 7)");
        exec("DELETE FROM _sync_outbox");
        exec("UPDATE parent SET a = 2");
        List<String> cascaded = outbox().stream().map(r -> r.substring(0, r.indexOf('}') + 1)).toList();
        assertTrue(cascaded.contains("3:{\"pa\":1,\"pb\":\"x\",\"n\":7}")
                && cascaded.contains("1:{\"pa\":2,\"pb\":\"x\",\"n\":7}"), cascaded.toString());
    }

    @Test
    void tablesCreatedAndAlteredThroughTheDriverAreCaptured() throws SQLException {
        exec("CREATE TABLE tag (name TEXT PRIMARY KEY, color TEXT)");
        exec("INSERT INTO tag VALUES ('red', '#f00')");
        exec("ALTER TABLE tag ADD COLUMN weight INTEGER");
        exec("UPDATE tag SET weight = 3 WHERE name = 'red'");
        List<String> rows = outbox();
        assertEquals(2, rows.size(), rows.toString());
        assertTrue(rows.get(1).contains("\"weight\":3") && rows.get(1).endsWith(":001"), rows.get(1));
    }

    @Test
    void rowsThatExistedBeforeSyncAreBackfilled() throws SQLException {
        Path file = dir.resolve("old.db");
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file);
             Statement st = plain.createStatement()) {
            st.execute("CREATE TABLE legacy (id INTEGER PRIMARY KEY, v TEXT)");
            st.execute("INSERT INTO legacy VALUES (1, 'x'), (2, 'y')");
        }
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0");
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*), count(hlc) FROM _sync_outbox")) {
            assertTrue(rs.next());
            assertEquals(2, rs.getInt(1));
            assertEquals(1, rs.getInt(2));
        }
    }

    @Test
    void writesByAnotherProgramAreCapturedToo() throws SQLException {
        try (Connection other = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"));
             Statement st = other.createStatement()) {
            st.execute("INSERT INTO item (id, title) VALUES (7, 'from the sqlite3 shell')");
        }
        assertEquals(1, outbox().size());
        assertEquals(0, txs().size(), "not stamped yet: the sync client stamps such rows when it finds them");
    }

    @Test
    void nothingIsCapturedInsideASyncClientApplyAndEverythingOutsideIt() throws SQLException {
        exec("INSERT INTO item (id, title, qty) VALUES (1, 'one', 1), (2, 'two', 2)");
        int before = outbox().size();
        // As LocalStore applies the feed: a row in _sync_applying for the transaction's duration only.
        try (Connection other = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"));
             Statement st = other.createStatement()) {
            st.execute("BEGIN IMMEDIATE");
            st.execute("INSERT INTO " + Outbox.APPLYING + " VALUES (1)");
            st.execute("INSERT INTO item (id, title) VALUES (3, 'from the relay')");
            st.execute("UPDATE item SET title = 'changed by the relay' WHERE id = 1");
            st.execute("UPDATE item SET id = 4 WHERE id = 2");
            st.execute("DELETE FROM item WHERE id = 3");
            try (ResultSet rs = st.executeQuery("SELECT count(*) FROM _sync_outbox")) {
                rs.next();
                assertEquals(before, rs.getInt(1), "an insert, an update, a key change and a delete, none captured");
            }
            st.execute("DELETE FROM " + Outbox.APPLYING);
            st.execute("INSERT INTO item (id, title) VALUES (5, 'the application again')");
            st.execute("COMMIT");
        }
        List<String> after = outbox();
        assertEquals(before + 1, after.size(), after.toString());
        assertTrue(after.get(before).contains("the application again"), after.toString());
        // The table stays empty outside the apply's transaction, so this connection's writes are captured.
        exec("UPDATE item SET qty = 9 WHERE id = 4");
        assertEquals(before + 2, outbox().size());
    }

    @Test
    void aRowCommittedIntoTheApplyGuardIsClearedWhenTheFileOpens() throws SQLException {
        conn.close();
        try (Connection other = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"));
             Statement st = other.createStatement()) {
            st.execute("INSERT INTO " + Outbox.APPLYING + " VALUES (1)"); // committed: capture is off for everyone
            st.execute("INSERT INTO item (id, title) VALUES (1, 'not captured')");
        }
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"))) {
            assertEquals(0, outbox(plain).size());
        }
        conn = DriverManager.getConnection(url);
        exec("INSERT INTO item (id, title) VALUES (2, 'captured again')");
        List<String> rows = outbox();
        assertEquals(1, rows.size(), rows.toString());
        assertTrue(rows.get(0).contains("captured again"), rows.toString());
    }

    @Test
    void aSyncedTableWithoutPrimaryKeyRefusesWrites() throws SQLException {
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("nopk.db"));
             Statement st = plain.createStatement()) {
            st.execute("CREATE TABLE log (msg TEXT)");
        }
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("nopk.db")
                + "?sync.tables=log&sync.lingerMs=0"); Statement st = c.createStatement()) {
            SQLException e = assertThrows(SQLException.class, () -> st.execute("INSERT INTO log VALUES ('x')"));
            assertTrue(e.getMessage().contains("has no primary key"), e.getMessage());
        }
    }

    @Test
    void tablesWithoutPrimaryKeyAreNotSyncedByDefault() throws SQLException {
        exec("CREATE TABLE scratch (msg TEXT)");
        exec("INSERT INTO scratch VALUES ('x')");
        assertEquals(0, outbox().size());
    }

    @Test
    void severalConnectionsOnSeveralThreadsCaptureEveryWrite() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                int writer = w;
                futures.add(pool.submit(() -> {
                    try (Connection c = DriverManager.getConnection(url)) {
                        for (int i = 0; i < 50; i++) {
                            try (PreparedStatement ps = c.prepareStatement("INSERT INTO item (id, title) VALUES (?, ?)")) {
                                ps.setInt(1, writer * 1000 + i);
                                ps.setString(2, "w" + writer);
                                ps.executeUpdate();
                            }
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
        assertEquals(200, outbox().size());
        List<long[]> txs = txs();
        assertEquals(200, txs.size());
        for (int i = 1; i < txs.size(); i++) {
            assertTrue(txs.get(i)[1] > txs.get(i - 1)[1], "one clock per file: stamps increase in commit order");
            assertEquals(txs.get(i - 1)[2] + 1, txs.get(i)[2]);
        }
    }

    @Test
    void closeIsIdempotentAndLaterCallsFailWith08003() throws SQLException {
        Connection c = DriverManager.getConnection(url);
        c.close();
        c.close();
        SQLException e = assertThrows(SQLException.class, c::commit);
        assertEquals("08003", e.getSQLState());
        assertTrue(conn.isWrapperFor(SyncConnection.class));
    }

    @Test
    void counterStatementsRecordTheAmountAdded() throws SQLException {
        exec("INSERT INTO item (id, title, qty) VALUES (1, 'a', 5)");
        try (PreparedStatement ps = conn.prepareStatement("UPDATE item SET qty = (qty + ?) WHERE id = ?")) {
            ps.setInt(1, 3);
            ps.setInt(2, 1);
            ps.executeUpdate();
        }
        try (Statement st = conn.createStatement()) {
            // an overload with generated-keys flags passes the same counter path as execute(sql)
            st.executeUpdate("UPDATE item SET qty = qty - 2 WHERE id = 1", Statement.NO_GENERATED_KEYS);
        }
        exec("UPDATE item SET title = 'plain' WHERE id = 1");
        List<String> deltas = new ArrayList<>();
        try (Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("SELECT deltas FROM _sync_outbox ORDER BY seq")) {
            while (rs.next()) {
                deltas.add(rs.getString(1));
            }
        }
        assertEquals(java.util.Arrays.asList(null, "{\"qty\":3}", "{\"qty\":-2}", null), deltas);
    }

    @Test
    void aColumnDeclaredLastWriterWinsIsNeverACounter() throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("lww.db")
                + "?sync.lingerMs=0&sync.lww=item.qty"); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, qty INTEGER, price REAL)");
            st.execute("INSERT INTO item VALUES (1, 1, 1.0)");
            st.execute("UPDATE item SET qty = qty + 1, price = price + 0.5 WHERE id = 1");
            try (ResultSet rs = st.executeQuery("SELECT deltas FROM _sync_outbox ORDER BY seq DESC LIMIT 1")) {
                assertTrue(rs.next());
                assertEquals("{\"price\":0.5}", rs.getString(1));
            }
        }
    }
}
