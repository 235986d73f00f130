package io.syncsqlite.it.sync;

import io.syncsqlite.driver.capture.SchemaReader;
import io.syncsqlite.driver.capture.TableInfo;
import io.syncsqlite.driver.capture.TriggerSql;
import io.syncsqlite.driver.sync.RemoteChange;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.protocol.Hlc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.reflect.Method;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Second end-to-end review of typed capture (3d6593e): real relay, PostgreSQL and SQLite clients.
 */
class TypedCaptureSecondReviewTest {

    @TempDir
    Path dir;

    private static void exec(Connection c, String... sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            for (String s : sql) {
                st.execute(s);
            }
        }
    }

    /**
     * The JSON triggers of the version before typed capture (TriggerSql.forTable(t) there, forTable(t, null) here),
     * without the guard that skips the sync client's applies: it names _sync_applying, which that version lacked.
     */
    @SuppressWarnings("unchecked")
    private static List<String> jsonTriggers(TableInfo t) throws Exception {
        List<String> today = null;
        for (Method m : TriggerSql.class.getMethods()) {
            if (m.getName().equals("forTable") && m.getParameterCount() == 2) {
                today = (List<String>) m.invoke(null, t, null);
            }
        }
        if (today == null) {
            today = (List<String>) TriggerSql.class.getMethod("forTable", TableInfo.class).invoke(null, t);
        }
        String guard = "NOT EXISTS (SELECT 1 FROM _sync_applying)";
        return today.stream().map(sql -> sql.replace(" AND " + guard, "").replace(" WHEN " + guard, "")).toList();
    }

    /**
     * Turns a plain SQLite file into one as the version before typed capture left it: its outbox (no layout
     * or value columns), bookkeeping tables and JSON triggers on {@code tables}, recorded in _sync_tables.
     */
    private static void makeOldFormatFile(Connection raw, String... tables) throws Exception {
        exec(raw, "CREATE TABLE _sync_outbox (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, op INTEGER NOT NULL,"
                        + " pk TEXT, vals TEXT, changed TEXT, hlc INTEGER, ack INTEGER, deltas TEXT)",
                "CREATE TABLE _sync_state (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID",
                "CREATE TABLE _sync_tables (name TEXT PRIMARY KEY, triggers TEXT NOT NULL)",
                "CREATE TABLE _sync_idblock (tbl TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,"
                        + " PRIMARY KEY (tbl, lo)) WITHOUT ROWID");
        for (String name : tables) {
            TableInfo t = SchemaReader.readTable(raw, name);
            List<String> old = jsonTriggers(t);
            exec(raw, old.toArray(String[]::new));
            try (PreparedStatement ps = raw.prepareStatement("INSERT INTO _sync_tables (name, triggers) VALUES (?, ?)")) {
                ps.setString(1, t.name());
                ps.setString(2, String.join(";\n", old));
                ps.executeUpdate();
            }
        }
    }

    /** Stamps the rows written since the last stamp as one transaction, as the old driver did at commit. */
    private static void stamp(Connection raw, long hlc) throws SQLException {
        try (PreparedStatement ps = raw.prepareStatement(
                "UPDATE _sync_outbox SET hlc = ? WHERE seq = (SELECT max(seq) FROM _sync_outbox) AND hlc IS NULL")) {
            ps.setLong(1, hlc);
            ps.executeUpdate();
        }
    }

    /**
     * Guard (passes): a file the previous format wrote, with unsent JSON rows (two stamped transactions,
     * one with an update and a key change, and an unstamped tail as a write whose stamp was deferred or
     * another program leaves), opened by this driver with a relay: every old row reaches PostgreSQL and
     * another client, and typed writes made after the upgrade apply on top of them.
     */
    @Test
    void aFileWithPendingJsonRowsUpgradesAndSyncsInOrder() throws Exception {
        try (Cluster c = Cluster.start("typed_rev2_upgrade", dir,
                "CREATE TABLE item (id integer PRIMARY KEY, title text, price double precision, data bytea)")) {
            String local = "CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, price REAL, data BLOB)";
            Client b = c.client("b", local);
            Path file = c.file("a", local);
            long t0 = Hlc.ofMillis(System.currentTimeMillis() - 5_000);
            try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file)) {
                makeOldFormatFile(raw, "item");
                exec(raw, "INSERT INTO item VALUES (1, 'a', 1.5, x'0A0B')", "INSERT INTO item VALUES (2, 'b', 0.1, NULL)");
                stamp(raw, t0);
                exec(raw, "UPDATE item SET title = 'a2' WHERE id = 1", "UPDATE item SET id = 3 WHERE id = 2");
                stamp(raw, t0 + 1);
                exec(raw, "INSERT INTO item VALUES (4, 'd', 1e300, x'FF')", "UPDATE item SET price = 2.25 WHERE id = 1");
            }
            Client a = c.open("a", file, c.proxy());
            a.exec("UPDATE item SET title = 'c' WHERE id = 3");
            a.exec("INSERT INTO item (id, title, price) VALUES (5, 'e', 1.0 / 3)");
            a.exec("UPDATE item SET id = 6, data = x'00' WHERE id = 4");
            a.awaitSynced();
            String q = "SELECT id, title, price, data FROM item ORDER BY id";
            assertEquals(List.of(
                    row(1L, "a2", 2.25, "0a0b"),
                    row(3L, "c", 0.1, null),
                    row(5L, "e", 1.0 / 3, null),
                    row(6L, "d", 1e300, "00")), c.pgRows(q));
            c.awaitConverged(q, a, b);
            assertEquals(List.of(Map.of("n", 0L)), a.rows("SELECT count(*) AS n FROM _sync_outbox WHERE op <> 0 AND ack IS NULL"));
        }
    }

    private static Map<String, Object> row(Object id, Object title, Object price, Object data) {
        java.util.LinkedHashMap<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("id", id);
        m.put("title", title);
        m.put("price", price);
        m.put("data", data);
        return m;
    }

    private static String wide(String keyType, String textType) {
        StringJoiner j = new StringJoiner(", ", "CREATE TABLE m (k " + keyType + " PRIMARY KEY, v " + textType + ", ", ")");
        for (int i = 1; i <= 16; i++) {
            j.add("c" + i + " " + textType);
        }
        return j.toString();
    }

    /**
     * TypedCaptureReviewTest.pendingRowWithARealKeyIsNotRemovedByAResync, with a table of more than
     * Outbox.VALUE_COLUMNS columns, whose inserts are captured as JSON. The first review's fix made
     * LocalStore.endResync key local rows with the decoder's digits (0.3333333333333333) to match typed
     * rows; but the pending overlay of a JSON row keyed it with json_object's digits (0.33333333333333332),
     * so the resync deleted the wide table's pending row instead. Fixed by comparing such keys by their
     * double (RowKey).
     */
    @Test
    void pendingRowOfAWideTableWithARealKeyIsNotRemovedByAResync() throws Exception {
        try (Cluster c = Cluster.start("typed_rev2_widereal", dir,
                wide("double precision", "text"),
                "CREATE TABLE seed (id text PRIMARY KEY)",
                "CREATE TABLE later (id text PRIMARY KEY)")) {
            Client a = c.client("a", wide("REAL", "TEXT"), "CREATE TABLE seed (id TEXT PRIMARY KEY)");
            TypedCaptureReviewTest.pendingRealKeyRowSurvivesAResync(c, a);
        }
    }

    /**
     * The same for a file upgraded from the previous format: its pending rows are JSON whatever the
     * table's width, so a pending row with a REAL key written before the upgrade is deleted by the first
     * resync after it. On 519f135 (the "upgrade" is a no-op there) the row is kept.
     */
    @Test
    void pendingJsonRowWithARealKeyFromBeforeTheUpgradeIsNotRemovedByAResync() throws Exception {
        try (Cluster c = Cluster.start("typed_rev2_upgreal", dir,
                "CREATE TABLE m (k double precision PRIMARY KEY, v text)",
                "CREATE TABLE seed (id text PRIMARY KEY)",
                "CREATE TABLE later (id text PRIMARY KEY)")) {
            Client a = c.client("a", "CREATE TABLE m (k REAL PRIMARY KEY, v TEXT)", "CREATE TABLE seed (id TEXT PRIMARY KEY)");
            a.exec("INSERT INTO seed (id) VALUES ('s')");
            a.awaitSynced(); // a feed position
            a.close();
            try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + a.file())) {
                // what the previous version's triggers on m look like, and a pending write they captured
                TableInfo m = SchemaReader.readTable(raw, "m");
                List<String> old = jsonTriggers(m);
                for (String name : TriggerSql.triggerNames("m")) {
                    exec(raw, "DROP TRIGGER IF EXISTS " + TriggerSql.quote(name));
                }
                exec(raw, old.toArray(String[]::new));
                try (PreparedStatement ps = raw.prepareStatement("UPDATE _sync_tables SET triggers = ? WHERE name = 'm'")) {
                    ps.setString(1, String.join(";\n", old));
                    ps.executeUpdate();
                }
                try (PreparedStatement ps = raw.prepareStatement("INSERT INTO m (k, v) VALUES (?, 'mine')")) {
                    ps.setDouble(1, 1.0 / 3);
                    ps.executeUpdate();
                }
                stamp(raw, Hlc.ofMillis(System.currentTimeMillis()));
                exec(raw, "CREATE TABLE later (id TEXT PRIMARY KEY)"); // synced anew at the next open: a resync
            }
            a.offline();
            a.reopen();
            List<RemoteChange> removed = new CopyOnWriteArrayList<>();
            a.node().addRemoteRowListener(l -> l.stream().filter(RemoteChange::deleted).forEach(removed::add));
            a.online();
            a.awaitSynced();

            assertEquals(List.of(), removed, "the client's own pending row was removed by the resync");
            c.awaitConverged("SELECT k, v FROM m", a);
        }
    }

    /**
     * End to end of TypedCaptureThirdReviewTest.bytesInTheIntegerKeyOfAWithoutRowidTableAreRefusedAsInEveryOtherNonBlobColumn:
     * bytes in the INTEGER key of a WITHOUT ROWID table (not a rowid alias, so it holds any value) passed the
     * typed triggers' byte check, which exempted keys TableInfo.rowidKey() called the alias. The relay got
     * "\\xFFFF" for a bigint key and rejected the transaction (22P02); the revert did not remove the row, so
     * the writer kept a row PostgreSQL and the other client never had. Every non-BLOB column is checked now.
     */
    @Test
    void bytesInTheIntegerKeyOfAWithoutRowidTableDoNotLeaveTheClientDivergedOrStuck() throws Exception {
        try (Cluster c = Cluster.start("typed_rev2_worowid", dir,
                "CREATE TABLE w (id bigint PRIMARY KEY, name text)")) {
            String local = "CREATE TABLE w (id INTEGER PRIMARY KEY, name TEXT) WITHOUT ROWID";
            Client a = c.client("a", local);
            Client b = c.client("b", local);
            TypedCaptureReviewTest.assertRefused(
                    () -> a.exec("INSERT INTO w (id, name) VALUES (?, 'bytes')", (Object) new byte[] {(byte) 0xFF, (byte) 0xFF}),
                    "w.id");
            a.exec("INSERT INTO w (id, name) VALUES (1, 'after')");
            a.awaitSynced();
            c.awaitConverged("SELECT id, name FROM w ORDER BY id", a, b);
        }
    }

    /**
     * Guard: a counter transaction captured typed, a rejected transaction, then an ALTER TABLE ADD COLUMN
     * through the driver and more counter updates with the new shape, all pending at once: the rejected
     * one is reverted, both counter amounts add up in PostgreSQL, and the row written with the new layout
     * carries its new column.
     */
    @Test
    void countersAndARejectionAcrossAnAddColumnWhileOffline() throws Exception {
        try (Cluster c = Cluster.start("typed_rev2_counters", dir,
                "CREATE TABLE acct (id text PRIMARY KEY, email text UNIQUE, n integer NOT NULL DEFAULT 0, note text)")) {
            c.clientParams("&sync.counters=acct.n");
            String local = "CREATE TABLE acct (id TEXT PRIMARY KEY, email TEXT UNIQUE, n INTEGER NOT NULL DEFAULT 0)";
            Client a = c.client("a", local);
            a.exec("INSERT INTO acct (id, email, n) VALUES ('s', 's@e', 1)");
            a.awaitSynced();

            a.offline();
            c.pg("INSERT INTO acct (id, email, n) VALUES ('b', 'x@e', 0)");
            c.pg("UPDATE acct SET n = n + 100 WHERE id = 's'");
            a.exec("UPDATE acct SET n = n + ? WHERE id = 's'", 5);
            a.exec("INSERT INTO acct (id, email, n) VALUES ('a1', 'x@e', 3)"); // refused: email taken
            a.exec("ALTER TABLE acct ADD COLUMN note TEXT");
            a.exec("UPDATE acct SET n = n + ?, note = 'z' WHERE id = 's'", 2);
            a.exec("INSERT INTO acct (id, email, n, note) VALUES ('a2', 'y@e', 4, 'new')");
            a.online();
            a.awaitSynced();

            String q = "SELECT id, email, n, note FROM acct ORDER BY id";
            List<Map<String, Object>> expected = List.of(
                    rowOf("id", "a2", "email", "y@e", "n", 4L, "note", "new"),
                    rowOf("id", "b", "email", "x@e", "n", 0L, "note", null),
                    rowOf("id", "s", "email", "s@e", "n", 108L, "note", "z"));
            assertEquals(expected, c.pgRows(q));
            c.awaitConverged(q, a);
        }
    }

    private static Map<String, Object> rowOf(Object... kv) {
        java.util.LinkedHashMap<String, Object> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    /**
     * Guard: values whose typed capture could differ from json_object's, round trip through PostgreSQL to a
     * second client: MBs of text and bytes, empty text against NULL, BOOLEAN, NUMERIC text SQLite turns
     * into a REAL, TIMESTAMP text, JSON text into jsonb (the text 'null' becomes SQL NULL, as with JSON capture), an integer sum that overflows to REAL.
     */
    @Test
    void valuesRoundTripAsTheJsonFormatSentThem() throws Exception {
        try (Cluster c = Cluster.start("typed_rev2_values", dir,
                "CREATE TABLE v (id integer PRIMARY KEY, t text, b bytea, flag boolean, amount numeric, ts timestamp,"
                        + " doc jsonb, big double precision)")) {
            String local = "CREATE TABLE v (id INTEGER PRIMARY KEY, t TEXT, b BLOB, flag BOOLEAN, amount NUMERIC,"
                    + " ts TIMESTAMP, doc TEXT, big REAL)";
            Client a = c.client("a", local);
            Client b = c.client("b", local);
            byte[] bytes = new byte[3 << 20];
            new java.util.Random(7).nextBytes(bytes);
            String text = "é\u0001\"'x".repeat(400_000);
            a.exec("INSERT INTO v VALUES (1, ?, ?, 1, '1.10', '2024-02-29 12:34:56.789', '{\"k\": [1, 2.50, \"s\"]}',"
                    + " 9223372036854775807 + 1)", text, bytes);
            a.exec("INSERT INTO v VALUES (2, '', x'', 0, '10', '2024-01-01', 'null', -1.5e-300)");
            a.exec("INSERT INTO v (id) VALUES (3)");
            a.exec("UPDATE v SET amount = '0.30000000000000004', flag = NULL WHERE id = 3");
            a.awaitSynced();
            assertEquals(List.of(
                    rowOf("id", 1L, "t", (long) text.length(), "b", (long) bytes.length, "flag", 1L, "amount", "1.1",
                            "ts", "2024-02-29 12:34:56.789", "doc", "{\"k\": [1, 2.5, \"s\"]}", "big", "9.223372036854776e+18"),
                    rowOf("id", 2L, "t", 0L, "b", 0L, "flag", 0L, "amount", "10", "ts", "2024-01-01 00:00:00",
                            "doc", null, "big", "-1.5e-300"),
                    rowOf("id", 3L, "t", null, "b", null, "flag", null, "amount", "0.30000000000000004", "ts", null,
                            "doc", null, "big", null)),
                    c.pgRows("SELECT id, length(t) AS t, length(b) AS b, flag, amount::text AS amount, ts::text AS ts,"
                            + " doc::text AS doc, big::text AS big FROM v ORDER BY id"));
            String q = "SELECT * FROM v ORDER BY id";
            Cluster.eventually(() -> b.rows(q), r -> r.size() == 3);
            assertEquals(a.rows(q), b.rows(q));
        }
    }
}
