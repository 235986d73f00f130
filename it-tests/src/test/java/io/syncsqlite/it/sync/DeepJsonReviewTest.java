package io.syncsqlite.it.sync;

import io.syncsqlite.driver.jdbc.SyncConnection;
import io.syncsqlite.driver.sync.Rejection;
import io.syncsqlite.driver.sync.SyncNode;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.it.harness.TcpProxy;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.Tokens;
import io.syncsqlite.relay.RelayConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Adversarial review of deep JSON documents (nested hundreds to thousands of levels, as PostgreSQL's json and
 * jsonb take them) end to end: json as well as jsonb columns, array columns, the boundary around the
 * relay's tree depth (500) and Jackson's limits (1,000), text a device holds that is not one deep document,
 * merges of concurrent offline writes, parents restored by compensation, rejections repeated at reconnect,
 * catch-up after a relay restart and a scoped relay's feed. Every comparison of documents is made by
 * PostgreSQL's jsonb equality, so spacing and key order never decide a result. Each test says what a
 * demanding user expects.
 */
class DeepJsonReviewTest {

    private static final int DEPTH = 5_000;

    @TempDir
    Path dir;

    // ---------------------------------------------------------------------------------------------------
    // documents

    /** Objects only: {"c":{"c":...1...}}, {@code depth} levels. */
    private static String obj(int depth) {
        return "{\"c\":".repeat(depth) + "1" + "}".repeat(depth);
    }

    /** Arrays only: [[[...1...]]], {@code depth} levels. */
    private static String arr(int depth) {
        return "[".repeat(depth) + "1" + "]".repeat(depth);
    }

    /** Objects and arrays alternating, as DeepJsonTest: {"c":[{"c":[...1...]}]}, {@code depth} levels (even). */
    private static String mixed(int depth) {
        return "{\"c\":[".repeat(depth / 2) + "1" + "]}".repeat(depth / 2);
    }

    // ---------------------------------------------------------------------------------------------------
    // helpers

    private static List<Rejection> rejections(Client c) throws SQLException {
        List<Rejection> out = new CopyOnWriteArrayList<>();
        c.node().addRejectionListener(out::add);
        return out;
    }

    private static List<String> reasons(List<Rejection> rejected) {
        return rejected.stream().map(r -> r.sqlState() + " " + r.reason()).toList();
    }

    /** The first column of the first row of a PostgreSQL query with string parameters, as text; null if none. */
    private static String pg(Connection pg, String sql, Object... args) throws SQLException {
        try (PreparedStatement ps = pg.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                ps.setObject(i + 1, args[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    private static String pg(Cluster c, String sql, Object... args) throws SQLException {
        try (Connection pg = c.pg()) {
            return pg(pg, sql, args);
        }
    }

    private static void pgUpdate(Connection pg, String sql, Object... args) throws SQLException {
        try (PreparedStatement ps = pg.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                ps.setObject(i + 1, args[i]);
            }
            ps.executeUpdate();
        }
    }

    private static void pgUpdate(Cluster c, String sql, Object... args) throws SQLException {
        try (Connection pg = c.pg()) {
            pgUpdate(pg, sql, args);
        }
    }

    /** The first column of the first row of a local query, as text; null if no row. */
    private static String local(Connection db, String sql) throws SQLException {
        try (Statement st = db.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private static String local(Client a, String sql) throws SQLException {
        return local(a.connection(), sql);
    }

    /** Whether two JSON texts are the same document, by PostgreSQL's jsonb equality ("false" if either is not JSON). */
    private static boolean sameDocument(Connection pg, String a, String b) throws SQLException {
        if (a == null || b == null) {
            return false;
        }
        try {
            return "true".equals(pg(pg, "SELECT (?::jsonb = ?::jsonb)::text", a, b));
        } catch (SQLException notJson) {
            return false;
        }
    }

    private static boolean sameDocument(Cluster c, String a, String b) throws SQLException {
        try (Connection pg = c.pg()) {
            return sameDocument(pg, a, b);
        }
    }

    private static String awaitLocal(Client a, String sql, java.util.function.Predicate<String> done, int seconds) {
        return await().atMost(Duration.ofSeconds(seconds)).pollInterval(Duration.ofMillis(100))
                .until(() -> local(a, sql), v -> v != null && done.test(v));
    }

    private static String awaitLocal(Connection a, String sql, java.util.function.Predicate<String> done, int seconds) {
        return await().atMost(Duration.ofSeconds(seconds)).pollInterval(Duration.ofMillis(100))
                .until(() -> local(a, sql), v -> v != null && done.test(v));
    }

    // ---------------------------------------------------------------------------------------------------
    // json (not jsonb), array columns

    /**
     * The same as for jsonb, in a {@code json} column (PostgreSQL keeps its text; the relay's feed reads
     * it through {@code to_jsonb}). The user expects a deep document written by psql to reach the device,
     * an update of another column of its row to leave it as it is, a device's own deep document to arrive as
     * a document (not a JSON string), and a new device to take both in its snapshot.
     */
    @Test
    void deepDocumentsInAJsonColumnSyncBothWays() throws Exception {
        String pgDdl = "CREATE TABLE notes (id BIGINT PRIMARY KEY, n INT CHECK (n >= 0), doc JSON)";
        String localDdl = "CREATE TABLE notes (id INTEGER PRIMARY KEY, n INTEGER, doc TEXT)";
        String fromPsql = mixed(DEPTH);
        String fromDevice = arr(DEPTH);
        try (Cluster c = Cluster.start("deep_review_json", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            List<Rejection> rejected = rejections(a);
            a.awaitSynced();
            pgUpdate(c, "INSERT INTO notes VALUES (1, 0, ?::json)", fromPsql);
            String got = awaitLocal(a, "SELECT doc FROM notes WHERE id = 1", v -> true, 30);
            assertTrue(sameDocument(c, fromPsql, got), "the device holds the psql document");

            a.exec("UPDATE notes SET n = 5 WHERE id = 1");
            a.exec("INSERT INTO notes (id, n, doc) VALUES (2, 0, ?)", fromDevice);
            a.awaitSynced();
            assertEquals(List.of(), reasons(rejected));
            assertEquals("5 true", pg(c, "SELECT n || ' ' || (doc::jsonb = ?::jsonb) FROM notes WHERE id = 1", fromPsql));
            assertEquals("array true", pg(c, "SELECT json_typeof(doc) || ' ' || (doc::jsonb = ?::jsonb) FROM notes WHERE id = 2",
                    fromDevice), "the device's deep text is a document in the json column");

            Client b = c.client("b", localDdl);
            awaitLocal(b, "SELECT count(*) FROM notes", "2"::equals, 30);
            assertTrue(sameDocument(c, fromPsql, local(b, "SELECT doc FROM notes WHERE id = 1")));
            assertTrue(sameDocument(c, fromDevice, local(b, "SELECT doc FROM notes WHERE id = 2")));
        }
    }

    /**
     * A {@code jsonb[]} column holding a deep document, from psql, and one the device writes itself (the JSON
     * text of the array, as the column reaches devices). The user expects the array to reach the device, an
     * update of another column to keep it, and the device's own array to arrive with its deep element. And an
     * {@code int[]} that no PostgreSQL array can hold (more than 6 dimensions) must be refused clearly, the
     * device's later writes syncing behind it.
     */
    @Test
    void deepDocumentsInArrayColumnsSyncOrAreRefusedClearly() throws Exception {
        String pgDdl = "CREATE TABLE bundles (id BIGINT PRIMARY KEY, n INT, docs JSONB[], xs INT[])";
        String localDdl = "CREATE TABLE bundles (id INTEGER PRIMARY KEY, n INTEGER, docs TEXT, xs TEXT)";
        String deep = mixed(DEPTH);
        try (Cluster c = Cluster.start("deep_review_arrays", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            List<Rejection> rejected = rejections(a);
            a.awaitSynced();
            pgUpdate(c, "INSERT INTO bundles VALUES (1, 0, ARRAY[?::jsonb, '{\"x\": 1}'::jsonb], '{1,2}')", deep);
            String got = awaitLocal(a, "SELECT docs FROM bundles WHERE id = 1", v -> true, 30);
            assertTrue(sameDocument(c, "[" + deep + ",{\"x\":1}]", got), "the device holds the jsonb[] as its JSON text");

            a.exec("UPDATE bundles SET n = 3 WHERE id = 1");
            a.exec("INSERT INTO bundles (id, n, docs, xs) VALUES (2, 0, ?, '[4,5]')", "[" + deep + "]");
            a.awaitSynced();
            assertEquals(List.of(), reasons(rejected));
            assertEquals("3 2 true", pg(c, "SELECT n || ' ' || array_length(docs, 1) || ' ' || (docs[1] = ?::jsonb)"
                    + " FROM bundles WHERE id = 1", deep));
            assertEquals("1 true", pg(c, "SELECT array_length(docs, 1) || ' ' || (docs[1] = ?::jsonb) FROM bundles WHERE id = 2",
                    deep), "the device's jsonb[] holds its deep element");

            // 600 nested arrays: no int[] has more than 6 dimensions.
            a.exec("INSERT INTO bundles (id, n, docs, xs) VALUES (3, 0, NULL, ?)", arr(600));
            a.exec("INSERT INTO bundles (id, n, docs, xs) VALUES (4, 0, NULL, '[7]')");
            await().atMost(Duration.ofSeconds(30)).until(() -> !rejected.isEmpty());
            a.awaitSynced();
            assertEquals(1, rejected.size(), reasons(rejected).toString());
            assertEquals("54000", rejected.get(0).sqlState(), reasons(rejected).toString());
            assertEquals("{7}", pg(c, "SELECT xs::text FROM bundles WHERE id = 4"));
            assertEquals(null, pg(c, "SELECT id FROM bundles WHERE id = 3"));
            assertEquals("0", local(a, "SELECT count(*) FROM bundles WHERE id = 3"), "the refused row is reverted");
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // text a device holds

    /**
     * Text a device holds in a jsonb column that is not exactly one deep document. The user expects what the
     * relay does for a shallow one: surrounding whitespace is no part of the document; text that is not JSON
     * (unbalanced, trailing garbage, two documents) is stored as a JSON string holding exactly that text, never
     * cut or spliced into the relay's own JSON; a JSON string whose content looks deep is a string. Later
     * writes sync, and PostgreSQL ends with each value as described. The device then holds each document as JSON
     * text (a string quoted), which written back is the same document.
     */
    @Test
    void deviceTextThatIsNotExactlyOneDeepDocumentIsStoredAsForAShallowOne() throws Exception {
        String pgDdl = "CREATE TABLE settings (id BIGINT PRIMARY KEY, doc JSONB)";
        String localDdl = "CREATE TABLE settings (id INTEGER PRIMARY KEY, doc TEXT)";
        String doc = mixed(DEPTH);
        String padded = "\n\t  " + doc + " \r\n";
        String unbalanced = doc.substring(0, doc.length() - 1);
        String trailing = doc + " x";
        String twice = doc + doc;
        String injection = "[".repeat(600) + "1" + "]".repeat(600) + ",\"evil\":true";
        String stringLiteral = "\"" + "[".repeat(3_000) + "\"";
        try (Cluster c = Cluster.start("deep_review_text", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            List<Rejection> rejected = rejections(a);
            a.exec("INSERT INTO settings (id, doc) VALUES (1, ?)", padded);
            a.exec("INSERT INTO settings (id, doc) VALUES (2, ?)", unbalanced);
            a.exec("INSERT INTO settings (id, doc) VALUES (3, ?)", trailing);
            a.exec("INSERT INTO settings (id, doc) VALUES (4, ?)", twice);
            a.exec("INSERT INTO settings (id, doc) VALUES (5, ?)", injection);
            a.exec("INSERT INTO settings (id, doc) VALUES (6, ?)", stringLiteral);
            a.exec("INSERT INTO settings (id, doc) VALUES (7, '{\"after\": true}')");
            a.awaitSynced();
            assertEquals(List.of(), reasons(rejected));
            try (Connection pg = c.pg()) {
                assertEquals("object true", pg(pg, "SELECT jsonb_typeof(doc) || ' ' || (doc = ?::jsonb) FROM settings WHERE id = 1", doc));
                for (Object[] s : new Object[][]{{2, unbalanced}, {3, trailing}, {4, twice}, {5, injection}}) {
                    assertEquals("string true", pg(pg, "SELECT jsonb_typeof(doc) || ' ' || (doc #>> '{}' = ?) FROM settings WHERE id = ?",
                            s[1], s[0]), "row " + s[0] + " is not one JSON document: a string holding the text");
                }
                assertEquals("string true", pg(pg, "SELECT jsonb_typeof(doc) || ' ' || (doc #>> '{}' = ?) FROM settings WHERE id = 6",
                        "[".repeat(3_000)));
                assertEquals("1", pg(pg, "SELECT count(*) FROM settings WHERE id = 7"));
            }
            // The device then holds PostgreSQL's document, a JSON string of its text, as JSON text (a json/jsonb
            // column always gets its document's JSON text: EdgeValuesReviewTest), and writing it back changes nothing.
            assertEquals(com.fasterxml.jackson.databind.node.TextNode.valueOf(unbalanced).toString(),
                    local(a, "SELECT doc FROM settings WHERE id = 2"), "the device holds the string's JSON text");
            assertEquals(com.fasterxml.jackson.databind.node.TextNode.valueOf(injection).toString(),
                    local(a, "SELECT doc FROM settings WHERE id = 5"), "the device holds the string's JSON text");
            a.exec("UPDATE settings SET id = id + 100 WHERE id IN (2, 5)");
            a.awaitSynced();
            try (Connection pg = c.pg()) {
                assertEquals("string true", pg(pg, "SELECT jsonb_typeof(doc) || ' ' || (doc #>> '{}' = ?) FROM settings WHERE id = 102",
                        unbalanced), "written back, the document is the same string");
                assertEquals("string true", pg(pg, "SELECT jsonb_typeof(doc) || ' ' || (doc #>> '{}' = ?) FROM settings WHERE id = 105",
                        injection), "written back, the document is the same string");
            }
        }
    }

    /**
     * Documents around the relay's tree depth (500) and Jackson's write limit (1,000), written by a device
     * and by psql, objects and arrays. The user expects each depth to behave like any other: every document
     * arrives in PostgreSQL as a document and on the device as the same document.
     */
    @Test
    void documentsAroundFiveHundredAndOneThousandLevelsSyncBothWays() throws Exception {
        String pgDdl = "CREATE TABLE settings (id BIGINT PRIMARY KEY, doc JSONB)";
        String localDdl = "CREATE TABLE settings (id INTEGER PRIMARY KEY, doc TEXT)";
        int[] depths = {498, 499, 500, 501, 502, 998, 999, 1000, 1001, 1002};
        try (Cluster c = Cluster.start("deep_review_boundary", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            List<Rejection> rejected = rejections(a);
            a.awaitSynced();
            for (int d : depths) {
                a.exec("INSERT INTO settings (id, doc) VALUES (?, ?)", d, obj(d));
                pgUpdate(c, "INSERT INTO settings (id, doc) VALUES (?, ?::jsonb)", 10_000 + d, arr(d));
            }
            a.awaitSynced();
            awaitLocal(a, "SELECT count(*) FROM settings", v -> v.equals(String.valueOf(2 * depths.length)), 30);
            assertEquals(List.of(), reasons(rejected));
            try (Connection pg = c.pg()) {
                for (int d : depths) {
                    assertEquals("object true", pg(pg, "SELECT jsonb_typeof(doc) || ' ' || (doc = ?::jsonb) FROM settings WHERE id = ?",
                            obj(d), d), "device's document of " + d + " levels in PostgreSQL");
                    assertTrue(sameDocument(pg, arr(d), local(a, "SELECT doc FROM settings WHERE id = " + (10_000 + d))),
                            "psql's document of " + d + " levels on the device");
                    assertTrue(sameDocument(pg, obj(d), local(a, "SELECT doc FROM settings WHERE id = " + d)),
                            "device's document of " + d + " levels after its echo");
                }
            }
        }
    }

    /**
     * A device sets a document with SQLite's own JSON functions ({@code json(?)}, as applications do to
     * validate or minify what they store, and as {@code json_set} returns), in a table of 17 columns (wider
     * than the outbox's typed columns, so its rows are captured with {@code json_object}, which embeds a value
     * of JSON subtype as JSON, not as a string). 600, 998 and 1,000 levels: SQLite's JSON functions take them,
     * PostgreSQL takes them, and the change says deeper documents sync both ways. The user expects each to
     * arrive in PostgreSQL as a document and the device's later writes to sync behind them (not an outbox
     * stalled for good on a message the device cannot encode or the relay cannot read).
     */
    @Test
    void documentsSetWithSqliteJsonFunctionsInAWideTableSync() throws Exception {
        StringBuilder pgCols = new StringBuilder();
        StringBuilder localCols = new StringBuilder();
        for (int i = 1; i <= 15; i++) {
            pgCols.append(", f").append(i).append(" TEXT");
            localCols.append(", f").append(i).append(" TEXT");
        }
        String pgDdl = "CREATE TABLE wide (id BIGINT PRIMARY KEY, doc JSONB" + pgCols + ")";
        String localDdl = "CREATE TABLE wide (id INTEGER PRIMARY KEY, doc TEXT" + localCols + ")";
        try (Cluster c = Cluster.start("deep_review_wide_json_fn", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            List<Rejection> rejected = rejections(a);
            a.exec("INSERT INTO wide (id, doc) VALUES (1, json(?))", "{\"shallow\": [1, 2]}");
            a.awaitSynced();
            assertEquals("object", pg(c, "SELECT jsonb_typeof(doc) FROM wide WHERE id = 1"));
            a.exec("INSERT INTO wide (id, doc) VALUES (600, json(?))", arr(600));
            a.awaitSynced();
            assertEquals("array true", pg(c, "SELECT jsonb_typeof(doc) || ' ' || (doc = ?::jsonb) FROM wide WHERE id = 600", arr(600)));
            a.exec("INSERT INTO wide (id, doc) VALUES (998, json(?))", arr(998));
            a.exec("INSERT INTO wide (id, doc) VALUES (2, '{\"after\": true}')");
            a.awaitSynced();
            assertEquals(List.of(), reasons(rejected));
            assertEquals("array true", pg(c, "SELECT jsonb_typeof(doc) || ' ' || (doc = ?::jsonb) FROM wide WHERE id = 998", arr(998)));
            a.exec("INSERT INTO wide (id, doc) VALUES (1000, json(?))", arr(1000));
            a.exec("INSERT INTO wide (id, doc) VALUES (3, '{\"after\": true}')");
            a.awaitSynced();
            assertEquals(List.of(), reasons(rejected));
            assertEquals("array true", pg(c, "SELECT jsonb_typeof(doc) || ' ' || (doc = ?::jsonb) FROM wide WHERE id = 1000", arr(1000)));
            assertEquals("1,2,3,600,998,1000", pg(c, "SELECT string_agg(id::text, ',' ORDER BY id) FROM wide"));
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // merges, compensation

    /**
     * Two devices offline: one changes another column of a row holding a deep document, the other replaces the
     * document with a deeper one. The user expects the column-level merge: both changes kept, in PostgreSQL and
     * on both devices.
     */
    @Test
    void concurrentOfflineUpdatesOfARowHoldingADeepDocumentMergeByColumn() throws Exception {
        String pgDdl = "CREATE TABLE settings (id BIGINT PRIMARY KEY, n INT, doc JSONB)";
        String localDdl = "CREATE TABLE settings (id INTEGER PRIMARY KEY, n INTEGER, doc TEXT)";
        String first = mixed(DEPTH);
        String second = obj(DEPTH + 1_000);
        try (Cluster c = Cluster.start("deep_review_merge", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            Client b = c.client("b", localDdl);
            List<Rejection> rejected = rejections(a);
            List<Rejection> rejectedB = rejections(b);
            pgUpdate(c, "INSERT INTO settings VALUES (1, 0, ?::jsonb)", first);
            awaitLocal(a, "SELECT count(*) FROM settings", "1"::equals, 30);
            awaitLocal(b, "SELECT count(*) FROM settings", "1"::equals, 30);

            a.offline();
            b.offline();
            a.exec("UPDATE settings SET n = 42 WHERE id = 1");
            b.exec("UPDATE settings SET doc = ? WHERE id = 1", second);
            a.online();
            b.online();
            a.awaitSynced();
            b.awaitSynced();
            a.awaitSynced();
            assertEquals(List.of(), reasons(rejected));
            assertEquals(List.of(), reasons(rejectedB));
            assertEquals("42 true", pg(c, "SELECT n || ' ' || (doc = ?::jsonb) FROM settings WHERE id = 1", second));
            for (Client x : List.of(a, b)) {
                awaitLocal(x, "SELECT n FROM settings WHERE id = 1", "42"::equals, 30);
                assertTrue(sameDocument(c, second, local(x, "SELECT doc FROM settings WHERE id = 1")), x.name());
            }
        }
    }

    /**
     * Two devices offline both set the deep column of the same row, each to its own deep document. The user
     * expects last-writer-wins on that column: PostgreSQL and both devices end with the later write's document.
     */
    @Test
    void twoDevicesSettingTheDeepColumnConvergeOnTheLaterWrite() throws Exception {
        String pgDdl = "CREATE TABLE settings (id BIGINT PRIMARY KEY, doc JSONB)";
        String localDdl = "CREATE TABLE settings (id INTEGER PRIMARY KEY, doc TEXT)";
        String fromA = obj(3_000);
        String fromB = arr(4_000);
        try (Cluster c = Cluster.start("deep_review_lww", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            Client b = c.client("b", localDdl);
            a.exec("INSERT INTO settings (id, doc) VALUES (1, '{}')");
            a.awaitSynced();
            awaitLocal(b, "SELECT count(*) FROM settings", "1"::equals, 30);
            a.offline();
            b.offline();
            a.exec("UPDATE settings SET doc = ? WHERE id = 1", fromA);
            Thread.sleep(20);
            b.exec("UPDATE settings SET doc = ? WHERE id = 1", fromB); // later
            b.online();
            b.awaitSynced();
            a.online();
            a.awaitSynced();
            b.awaitSynced();
            assertEquals("true", pg(c, "SELECT (doc = ?::jsonb)::text FROM settings WHERE id = 1", fromB));
            for (Client x : List.of(a, b)) {
                String v = awaitLocal(x, "SELECT doc FROM settings WHERE id = 1", s -> s.startsWith("["), 30);
                assertTrue(sameDocument(c, fromB, v), x.name());
            }
        }
    }

    /**
     * A device inserts a child row while offline; meanwhile another device deleted its parent, whose row holds
     * a deep document. The relay restores the parent from its tombstone's image (compensation). The user
     * expects the parent back with its document intact, in PostgreSQL and on both devices.
     */
    @Test
    void aParentRestoredByCompensationKeepsItsDeepDocument() throws Exception {
        String[] pgDdl = {"CREATE TABLE folder (id TEXT PRIMARY KEY, doc JSONB)",
                "CREATE TABLE item (id TEXT PRIMARY KEY, folder_id TEXT NOT NULL REFERENCES folder (id) ON DELETE CASCADE)"};
        String[] localDdl = {"CREATE TABLE folder (id TEXT PRIMARY KEY, doc TEXT)",
                "CREATE TABLE item (id TEXT PRIMARY KEY, folder_id TEXT NOT NULL REFERENCES folder (id) ON DELETE CASCADE)"};
        String doc = mixed(DEPTH);
        try (Cluster c = Cluster.start("deep_review_compensation", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            Client b = c.client("b", localDdl);
            List<Rejection> rejected = rejections(a);
            pgUpdate(c, "INSERT INTO folder VALUES ('f1', ?::jsonb)", doc);
            awaitLocal(a, "SELECT count(*) FROM folder", "1"::equals, 30);
            awaitLocal(b, "SELECT count(*) FROM folder", "1"::equals, 30);
            a.offline();
            b.exec("DELETE FROM folder WHERE id = 'f1'");
            b.awaitSynced();
            assertEquals(null, pg(c, "SELECT id FROM folder"));
            a.exec("INSERT INTO item VALUES ('i1', 'f1')");
            a.online();
            a.awaitSynced();
            assertEquals(List.of(), reasons(rejected));
            assertEquals("true", pg(c, "SELECT (doc = ?::jsonb)::text FROM folder WHERE id = 'f1'", doc),
                    "the restored parent holds its document");
            assertEquals("1", pg(c, "SELECT count(*) FROM item"));
            for (Client x : List.of(a, b)) {
                String v = awaitLocal(x, "SELECT doc FROM folder WHERE id = 'f1'", s -> true, 30);
                assertTrue(sameDocument(c, doc, v), x.name());
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // rejections, restarts, limits

    /**
     * A device's write to a row holding a deep document is refused (a CHECK): the rejection carries the row,
     * and the relay keeps it to repeat at the device's next connections. The user expects the device to
     * connect again (after a reopen and after a relay restart) and its later writes to sync.
     */
    @Test
    void aRecordedRejectionHoldingADeepRowDoesNotKeepTheDeviceFromConnecting() throws Exception {
        String pgDdl = "CREATE TABLE settings (id BIGINT PRIMARY KEY, n INT CHECK (n >= 0), doc JSONB)";
        String localDdl = "CREATE TABLE settings (id INTEGER PRIMARY KEY, n INTEGER, doc TEXT)";
        String doc = mixed(DEPTH);
        try (Cluster c = Cluster.start("deep_review_reject_replay", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            List<Rejection> rejected = rejections(a);
            pgUpdate(c, "INSERT INTO settings VALUES (1, 1, ?::jsonb)", doc);
            awaitLocal(a, "SELECT count(*) FROM settings", "1"::equals, 30);
            a.exec("UPDATE settings SET n = -1 WHERE id = 1");
            await().atMost(Duration.ofSeconds(30)).until(() -> !rejected.isEmpty());
            awaitLocal(a, "SELECT n FROM settings WHERE id = 1", "1"::equals, 30);
            assertTrue(sameDocument(c, doc, local(a, "SELECT doc FROM settings WHERE id = 1")));

            a.reopen();
            a.exec("INSERT INTO settings (id, n, doc) VALUES (2, 0, '{}')");
            a.awaitSynced();
            c.restartRelay();
            a.exec("INSERT INTO settings (id, n, doc) VALUES (3, 0, ?)", doc);
            a.awaitSynced();
            assertEquals("2,3", pg(c, "SELECT string_agg(id::text, ',' ORDER BY id) FROM settings WHERE id > 1"));
        }
    }

    /**
     * A device writes a document deeper than PostgreSQL itself takes (20,000 levels). The user expects a clear
     * refusal of that transaction (not a string stored in its place, not a stalled outbox), quickly, and the
     * device's later writes to sync behind it. And a second device must still connect and snapshot meanwhile.
     */
    @Test
    void aDocumentDeeperThanPostgresTakesIsRefusedClearlyAndLaterWritesSync() throws Exception {
        String pgDdl = "CREATE TABLE settings (id BIGINT PRIMARY KEY, doc JSONB)";
        String localDdl = "CREATE TABLE settings (id INTEGER PRIMARY KEY, doc TEXT)";
        try (Cluster c = Cluster.start("deep_review_too_deep", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            List<Rejection> rejected = rejections(a);
            a.exec("INSERT INTO settings (id, doc) VALUES (1, '{}')");
            a.awaitSynced();
            long start = System.nanoTime();
            a.exec("INSERT INTO settings (id, doc) VALUES (2, ?)", mixed(20_000));
            a.exec("INSERT INTO settings (id, doc) VALUES (3, '{\"after\": true}')");
            a.awaitSynced();
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertEquals(1, rejected.size(), reasons(rejected).toString());
            assertTrue(rejected.get(0).sqlState().startsWith("54"), reasons(rejected).toString());
            assertEquals("1,3", pg(c, "SELECT string_agg(id::text, ',' ORDER BY id) FROM settings"));
            assertEquals("1,3", local(a, "SELECT group_concat(id) FROM (SELECT id FROM settings ORDER BY id)"));
            assertTrue(ms < 20_000, "took " + ms + " ms");
            Client b = c.client("b", localDdl);
            awaitLocal(b, "SELECT group_concat(id) FROM (SELECT id FROM settings ORDER BY id)", "1,3"::equals, 30);
        }
    }

    /**
     * A device is offline while psql writes and rewrites deep documents and the relay restarts. The user
     * expects the device, back online, to catch up to PostgreSQL's last documents (the catch-up compacts
     * several images of a row into one), and a new device to take them in its snapshot.
     */
    @Test
    void deepDocumentsReachADeviceCatchingUpAfterARelayRestart() throws Exception {
        String pgDdl = "CREATE TABLE settings (id BIGINT PRIMARY KEY, doc JSONB)";
        String localDdl = "CREATE TABLE settings (id INTEGER PRIMARY KEY, doc TEXT)";
        try (Cluster c = Cluster.start("deep_review_catchup", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            a.exec("INSERT INTO settings (id, doc) VALUES (1, '{}')");
            a.awaitSynced();
            a.offline();
            for (int i = 0; i < 5; i++) {
                pgUpdate(c, "INSERT INTO settings VALUES (1, ?::jsonb) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                        mixed(DEPTH + 2 * i));
                pgUpdate(c, "INSERT INTO settings VALUES (?, ?::jsonb)", 10 + i, obj(1_000 + 1_000 * i));
            }
            c.restartRelay();
            a.online();
            awaitLocal(a, "SELECT count(*) FROM settings", "6"::equals, 30);
            a.awaitSynced();
            try (Connection pg = c.pg()) {
                assertTrue(sameDocument(pg, mixed(DEPTH + 8), local(a, "SELECT doc FROM settings WHERE id = 1")));
                for (int i = 0; i < 5; i++) {
                    assertTrue(sameDocument(pg, obj(1_000 + 1_000 * i), local(a, "SELECT doc FROM settings WHERE id = " + (10 + i))));
                }
            }
            Client b = c.client("b", localDdl);
            awaitLocal(b, "SELECT count(*) FROM settings", "6"::equals, 30);
            assertTrue(sameDocument(c, mixed(DEPTH + 8), local(b, "SELECT doc FROM settings WHERE id = 1")));
        }
    }

    /**
     * A jsonb primary key holding a document nested deeper than the relay's trees (600 levels of arrays): the
     * user expects the row to sync like one with a shallow key: from the device (its key as text), an update
     * of its other column from the device and from psql, a new device's snapshot.
     */
    @Test
    void aDeepJsonbKeySyncsLikeAShallowOne() throws Exception {
        String pgDdl = "CREATE TABLE tagged (k JSONB PRIMARY KEY, n INT)";
        String localDdl = "CREATE TABLE tagged (k TEXT PRIMARY KEY, n INTEGER)";
        String key = arr(600);
        try (Cluster c = Cluster.start("deep_review_key", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            List<Rejection> rejected = rejections(a);
            a.exec("INSERT INTO tagged (k, n) VALUES (?, 1)", key);
            a.awaitSynced();
            assertEquals(List.of(), reasons(rejected));
            assertEquals("1", pg(c, "SELECT n FROM tagged WHERE k = ?::jsonb", key));
            a.exec("UPDATE tagged SET n = 2 WHERE k = ?", key);
            a.awaitSynced();
            assertEquals(List.of(), reasons(rejected));
            assertEquals("2", pg(c, "SELECT n FROM tagged WHERE k = ?::jsonb", key));
            pgUpdate(c, "UPDATE tagged SET n = 3 WHERE k = ?::jsonb", key);
            awaitLocal(a, "SELECT group_concat(n) FROM tagged", "3"::equals, 30);
            assertEquals("1", local(a, "SELECT count(*) FROM tagged"), "one row, not a second one under the key's other text");
            Client b = c.client("b", localDdl);
            awaitLocal(b, "SELECT group_concat(n) FROM tagged", "3"::equals, 30);
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // a scoped relay

    private static final String SECRET = "0123456789abcdef0123456789abcdef-deep-review";

    /**
     * A scoped relay (rows by owner), which reads every row of its feed as a tree: documents around the tree
     * depth and far beyond it; psql moving a row holding a deep document from alice to bob (the relay decides
     * from the row and its previous owner that alice must drop it); alice's write refused (a CHECK) on rows at
     * the boundary; alice offline across a relay restart while psql rewrites her documents. The user expects
     * alice to see exactly her rows with their documents throughout, bob his.
     */
    @Test
    void aScopedRelayHandlesDeepDocumentsThroughMovesRejectionsAndCatchUp() throws Exception {
        String ddl = "CREATE TABLE settings (id BIGINT PRIMARY KEY, owner TEXT NOT NULL, n INT CHECK (n >= 0), doc JSONB)";
        String localDdl = "CREATE TABLE IF NOT EXISTS settings (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, n INTEGER, doc TEXT)";
        int[] depths = {499, 500, 501, 999, 1000, 1001, DEPTH};
        Path rules = dir.resolve("scopes.json");
        Files.writeString(rules, "{ \"settings\": { \"rows\": \"owner = :sub\" } }");
        List<Connection> opened = new ArrayList<>();
        try (RelayFixture f = RelayFixture.start("deep_review_scoped", ddl)) {
            f.reconfigure(cfg -> cfg.withAuth(new RelayConfig.Auth(SECRET, null, null)).withScopes(rules));
            try (TcpProxy proxy = new TcpProxy(f.relay().port())) {
                java.util.function.BiFunction<String, String, Connection> open = (name, user) -> {
                    try {
                        Path file = dir.resolve(name + ".db");
                        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = plain.createStatement()) {
                            st.execute(localDdl);
                        }
                        Connection conn = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.server=" + proxy.wsUrl()
                                + "&sync.node=" + name + "&sync.lingerMs=0&sync.reconnectMaxMs=300&sync.token=" + Tokens.hs256(SECRET, user));
                        opened.add(conn);
                        return conn;
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                };
                Connection alice = open.apply("alice", "alice");
                Connection bob = open.apply("bob", "bob");
                SyncNode aliceNode = alice.unwrap(SyncConnection.class).node();
                List<Rejection> rejected = new CopyOnWriteArrayList<>();
                aliceNode.addRejectionListener(rejected::add);
                assertTrue(aliceNode.awaitSynced(Duration.ofSeconds(20)));

                try (Connection pg = f.connection()) {
                    for (int d : depths) {
                        pgUpdate(pg, "INSERT INTO settings VALUES (?, 'alice', 1, ?::jsonb)", d, mixed(d % 2 == 0 ? d : d + 1));
                        pgUpdate(pg, "INSERT INTO settings VALUES (?, 'bob', 1, ?::jsonb)", 100_000 + d, obj(d));
                    }
                    pgUpdate(pg, "INSERT INTO settings VALUES (1, 'alice', 1, '{\"after\": true}')");
                }
                awaitLocal(alice, "SELECT count(*) FROM settings", v -> v.equals(String.valueOf(depths.length + 1)), 30);
                awaitLocal(bob, "SELECT count(*) FROM settings", v -> v.equals(String.valueOf(depths.length)), 30);
                try (Connection pg = f.connection()) {
                    for (int d : depths) {
                        assertTrue(sameDocument(pg, mixed(d % 2 == 0 ? d : d + 1), local(alice, "SELECT doc FROM settings WHERE id = " + d)),
                                "alice's document of " + d + " levels");
                        assertTrue(sameDocument(pg, obj(d), local(bob, "SELECT doc FROM settings WHERE id = " + (100_000 + d))),
                                "bob's document of " + d + " levels");
                    }
                }
                assertEquals("0", local(alice, "SELECT count(*) FROM settings WHERE owner <> 'alice'"));

                // psql gives alice's deepest row to bob: alice drops it, bob gets it.
                try (Connection pg = f.connection()) {
                    pgUpdate(pg, "UPDATE settings SET owner = 'bob' WHERE id = ?", DEPTH);
                }
                awaitLocal(alice, "SELECT count(*) FROM settings WHERE id = " + DEPTH, "0"::equals, 30);
                awaitLocal(bob, "SELECT count(*) FROM settings WHERE id = " + DEPTH, "1"::equals, 30);

                // Refused writes on rows at the boundary: each rejection carries the row back.
                for (int d : new int[]{500, 501, 1000, 1001}) {
                    try (Statement st = alice.createStatement()) {
                        st.executeUpdate("UPDATE settings SET n = -1 WHERE id = " + d);
                    }
                }
                await().atMost(Duration.ofSeconds(30)).until(() -> rejected.size() >= 4);
                assertTrue(aliceNode.awaitSynced(Duration.ofSeconds(20)));
                assertEquals("1,1,1,1", local(alice, "SELECT group_concat(n) FROM (SELECT n FROM settings WHERE id IN (500, 501, 1000, 1001) ORDER BY id)"));
                try (Connection pg = f.connection()) {
                    assertTrue(sameDocument(pg, mixed(1002), local(alice, "SELECT doc FROM settings WHERE id = 1001")));
                }

                // Alice offline across a relay restart while psql rewrites her documents.
                proxy.online(false);
                try (Connection pg = f.connection()) {
                    pgUpdate(pg, "UPDATE settings SET doc = ?::jsonb WHERE id = 999", arr(3_000));
                    pgUpdate(pg, "UPDATE settings SET doc = ?::jsonb WHERE id = 1000", obj(2_000));
                    pgUpdate(pg, "INSERT INTO settings VALUES (2, 'alice', 1, ?::jsonb)", mixed(DEPTH));
                }
                f.restart();
                proxy.target(f.relay().port());
                proxy.online(true);
                awaitLocal(alice, "SELECT count(*) FROM settings WHERE id = 2", "1"::equals, 30);
                assertTrue(aliceNode.awaitSynced(Duration.ofSeconds(20)));
                try (Connection pg = f.connection()) {
                    assertTrue(sameDocument(pg, arr(3_000), local(alice, "SELECT doc FROM settings WHERE id = 999")));
                    assertTrue(sameDocument(pg, obj(2_000), local(alice, "SELECT doc FROM settings WHERE id = 1000")));
                    assertTrue(sameDocument(pg, mixed(DEPTH), local(alice, "SELECT doc FROM settings WHERE id = 2")));
                }

                // A new device of alice's takes her rows in a snapshot.
                Connection alice2 = open.apply("alice2", "alice");
                String mine = local(alice, "SELECT group_concat(id) FROM (SELECT id FROM settings ORDER BY id)");
                awaitLocal(alice2, "SELECT group_concat(id) FROM (SELECT id FROM settings ORDER BY id)", mine::equals, 30);
                assertNotNull(local(alice2, "SELECT doc FROM settings WHERE id = 2"));
            } finally {
                for (Connection conn : opened) {
                    conn.close();
                }
            }
        }
    }
}
