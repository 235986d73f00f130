package io.syncsqlite.it.sync;

import io.syncsqlite.driver.sync.Rejection;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.syncsqlite.it.harness.Rows.row;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of identifiers and size limits, end to end: names that need quoting or that PostgreSQL folds or
 * truncates, long keys, large values and deep JSON documents. Each test says what a demanding user expects.
 */
class LimitsReviewTest {

    @TempDir
    Path dir;

    private static List<Rejection> rejections(Client c) throws SQLException {
        List<Rejection> out = new CopyOnWriteArrayList<>();
        c.node().addRejectionListener(out::add);
        return out;
    }

    /** 70 characters: PostgreSQL keeps the first 63 bytes of such a name, in DDL and in every query alike. */
    private static final String LONG_TABLE = "customer_subscription_billing_period_adjustment_history_entries_archive";
    private static final String LONG_COLUMN = "adjustment_reason_as_entered_by_the_customer_support_representative_x";

    /**
     * The user runs the same DDL on both sides, with a table name longer than 63 bytes (Hibernate and
     * hand-written schemas produce them). PostgreSQL truncates it to 63 bytes and still resolves the full
     * name in every query, so the user expects the table to sync: a row inserted on the device reaches
     * PostgreSQL and stays on the device, and a psql insert reaches the device.
     */
    @Test
    void tableNameLongerThanPostgresKeepsSyncsAsPostgresResolvesIt() throws Exception {
        assertTrue(LONG_TABLE.length() > 63);
        String pgDdl = "CREATE TABLE " + LONG_TABLE + " (id BIGINT PRIMARY KEY, note TEXT)";
        String localDdl = "CREATE TABLE " + LONG_TABLE + " (id INTEGER PRIMARY KEY, note TEXT)";
        try (Cluster c = Cluster.start("limits_long_table", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            List<Rejection> rejected = rejections(a);
            a.exec("INSERT INTO " + LONG_TABLE + " (id, note) VALUES (1, 'from device')");
            a.awaitSynced();
            c.pg("INSERT INTO " + LONG_TABLE + " (id, note) VALUES (2, 'from psql')");
            String view = "SELECT id, note FROM " + LONG_TABLE + " ORDER BY id";
            List<Map<String, Object>> expected = List.of(row("id", 1, "note", "from device"), row("id", 2, "note", "from psql"));
            Cluster.eventually(() -> a.rows(view), r -> r.size() >= 2 || !rejected.isEmpty());
            assertEquals(List.of(), rejected.stream().map(Rejection::reason).toList(), "the device's write was refused");
            assertEquals(expected, c.pgRows(view));
            assertEquals(expected, a.rows(view));
        }
    }

    /**
     * Same for a column name longer than 63 bytes: PostgreSQL truncates it and resolves the full name in
     * queries. The user expects the column's values to sync both ways, not to be refused or dropped.
     */
    @Test
    void columnNameLongerThanPostgresKeepsSyncsAsPostgresResolvesIt() throws Exception {
        assertTrue(LONG_COLUMN.length() > 63);
        String pgDdl = "CREATE TABLE adjustment (id BIGINT PRIMARY KEY, " + LONG_COLUMN + " TEXT)";
        String localDdl = "CREATE TABLE adjustment (id INTEGER PRIMARY KEY, " + LONG_COLUMN + " TEXT)";
        try (Cluster c = Cluster.start("limits_long_column", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            List<Rejection> rejected = rejections(a);
            a.exec("INSERT INTO adjustment (id, " + LONG_COLUMN + ") VALUES (1, 'from device')");
            a.awaitSynced();
            c.pg("INSERT INTO adjustment (id, " + LONG_COLUMN + ") VALUES (2, 'from psql')");
            String view = "SELECT id, " + LONG_COLUMN + " AS reason FROM adjustment ORDER BY id";
            List<Map<String, Object>> expected = List.of(row("id", 1, "reason", "from device"), row("id", 2, "reason", "from psql"));
            Cluster.eventually(() -> a.rows(view), r -> r.size() >= 2 || !rejected.isEmpty());
            assertEquals(List.of(), rejected.stream().map(Rejection::reason).toList(), "the device's write was refused");
            c.awaitConverged(view, a);
            assertEquals(expected, a.rows(view));
        }
    }

    private static final String PG_ORDER = "CREATE TABLE \"order\" (id BIGSERIAL PRIMARY KEY, \"user\" TEXT, \"group\" INTEGER,"
            + " \"select\" TEXT, \"two words\" TEXT, \"quo\"\"te\" TEXT, \"it's\" TEXT, \"a.b\" TEXT, \"Ünïcödé\" TEXT)";
    private static final String LOCAL_ORDER = "CREATE TABLE \"order\" (id INTEGER PRIMARY KEY, \"user\" TEXT, \"group\" INTEGER,"
            + " \"select\" TEXT, \"two words\" TEXT, \"quo\"\"te\" TEXT, \"it's\" TEXT, \"a.b\" TEXT, \"Ünïcödé\" TEXT)";
    private static final String ITEM_TABLE = "\"line \"\"item\"\".v2 it's\"";
    private static final String PG_ITEM = "CREATE TABLE " + ITEM_TABLE + " (\"order id\" BIGINT NOT NULL, \"Line No\" INTEGER NOT NULL,"
            + " \"from\" TEXT, PRIMARY KEY (\"order id\", \"Line No\"))";
    private static final String LOCAL_ITEM = PG_ITEM;
    private static final String PG_MIXED = "CREATE TABLE MixedCase (Id BIGINT PRIMARY KEY, UserName TEXT, Score INTEGER)";
    private static final String LOCAL_MIXED = "CREATE TABLE MixedCase (Id INTEGER PRIMARY KEY, UserName TEXT, Score INTEGER)";
    private static final String ORDERS = "SELECT id, \"user\", \"group\", \"select\", \"two words\", \"quo\"\"te\", \"it's\", \"a.b\","
            + " \"Ünïcödé\" FROM \"order\" ORDER BY id";
    private static final String ITEMS = "SELECT \"order id\", \"Line No\", \"from\" FROM " + ITEM_TABLE + " ORDER BY 1, 2";
    private static final String MIXED = "SELECT Id AS id, UserName AS username, Score AS score FROM MixedCase ORDER BY 1";

    /**
     * Names that need quoting (reserved words, spaces, quotes, dots, non-ASCII) and mixed-case names that
     * PostgreSQL folds (created unquoted on both sides): inserts (with and without a key), updates, deletes,
     * psql writes, a second device's snapshot and an offline column-level merge must all work as for plain
     * names.
     */
    @Test
    void namesThatNeedQuotingOrFoldingSyncLikePlainNames() throws Exception {
        try (Cluster c = Cluster.start("limits_names", dir, PG_ORDER, PG_ITEM, PG_MIXED)) {
            Client a = c.client("a", LOCAL_ORDER, LOCAL_ITEM, LOCAL_MIXED);
            List<Rejection> rejected = rejections(a);
            a.exec("INSERT INTO \"order\" (\"user\", \"group\", \"select\", \"two words\", \"quo\"\"te\", \"it's\", \"a.b\", \"Ünïcödé\")"
                    + " VALUES ('u', 1, 's', 'tw', 'q\"', 'it''s', 'ab', 'ü')");
            a.exec("INSERT INTO \"order\" (id, \"user\") VALUES (1000000, 'explicit')");
            a.exec("INSERT INTO " + ITEM_TABLE + " VALUES (1, 1, 'x'), (1, 2, 'y')");
            a.exec("INSERT INTO MixedCase (Id, UserName, Score) VALUES (1, 'ann', 1)");
            a.awaitSynced();
            Client b = c.client("b", LOCAL_ORDER, LOCAL_ITEM, LOCAL_MIXED);
            b.awaitSynced();
            c.awaitConverged(ORDERS, a, b);
            c.awaitConverged(ITEMS, a, b);
            c.awaitConverged(MIXED, a, b);
            assertEquals(2, c.pgRows(ORDERS).size());
            assertEquals(2, c.pgRows(ITEMS).size());

            c.pg("UPDATE \"order\" SET \"two words\" = 'from psql', \"Ünïcödé\" = 'ö' WHERE id = 1000000",
                    "UPDATE " + ITEM_TABLE + " SET \"from\" = 'psql' WHERE \"Line No\" = 2",
                    "INSERT INTO mixedcase (id, username, score) VALUES (2, 'bob', 2)");
            b.exec("DELETE FROM " + ITEM_TABLE + " WHERE \"Line No\" = 1");
            b.exec("UPDATE \"order\" SET \"quo\"\"te\" = 'b''s \"q\"' WHERE id = 1000000");
            b.awaitSynced();

            // a offline changes one column, psql another of the same row: both survive
            a.offline();
            a.exec("UPDATE MixedCase SET UserName = 'offline ann' WHERE Id = 1");
            c.pg("UPDATE mixedcase SET score = 7 WHERE id = 1");
            a.online();
            a.awaitSynced();
            b.awaitSynced();
            c.awaitConverged(ORDERS, a, b);
            c.awaitConverged(ITEMS, a, b);
            c.awaitConverged(MIXED, a, b);
            assertEquals(List.of(row("id", 1, "username", "offline ann", "score", 7), row("id", 2, "username", "bob", "score", 2)),
                    a.rows(MIXED));
            assertEquals(List.of(row("order id", 1, "line no", 2, "from", "psql")), a.rows(ITEMS));
            Map<String, Object> explicit = a.rows(ORDERS).get(1);
            assertEquals("from psql", explicit.get("two words"));
            assertEquals("ö", explicit.get("ünïcödé"));
            assertEquals("b's \"q\"", explicit.get("quo\"te"));
            assertEquals(List.of(), rejected.stream().map(Rejection::reason).toList());
        }
    }

    /**
     * A text key that PostgreSQL's own primary key index accepts (2,680 characters, under btree's 2,704-byte
     * entry limit) must sync too, and a psql insert of it must still work once the table is synced. The
     * relay keeps a second index on (table, key as JSON text) in {@code syncsqlite.row_clock}, whose
     * entry is a few bytes longer.
     */
    @Disabled("Known limit (DESIGN.md, known limits): a text key of about 2,660-2,700 bytes fits PostgreSQL's key index but not the clock table's")
    @Test
    void longTextKeyThatPostgresAcceptsAlsoSyncs() throws Exception {
        Random rnd = new Random(7);
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        StringBuilder k1 = new StringBuilder();
        StringBuilder k2 = new StringBuilder();
        for (int i = 0; i < 2680; i++) {
            k1.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
            k2.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
        }
        String pgDdl = "CREATE TABLE doc (path TEXT PRIMARY KEY, body TEXT)";
        try (Cluster c = Cluster.start("limits_long_key", dir, pgDdl)) {
            // PostgreSQL itself takes such a key (checked before and outside the synced table)
            c.pg("CREATE SCHEMA other", "CREATE TABLE other.plain (path TEXT PRIMARY KEY)");
            try (Connection pg = c.pg(); PreparedStatement ps = pg.prepareStatement("INSERT INTO other.plain VALUES (?)")) {
                ps.setString(1, k1.toString());
                ps.executeUpdate();
            }
            String psqlError = null;
            try (Connection pg = c.pg(); PreparedStatement ps = pg.prepareStatement("INSERT INTO doc VALUES (?, 'from psql')")) {
                ps.setString(1, k2.toString());
                ps.executeUpdate();
            } catch (SQLException e) {
                psqlError = e.getMessage();
            }
            Client a = c.client("a", pgDdl);
            List<Rejection> rejected = rejections(a);
            a.exec("INSERT INTO doc (path, body) VALUES (?, 'from device')", k1.toString());
            boolean settled = a.node().awaitSynced(Duration.ofSeconds(30));
            String outcome = "psql insert error: " + psqlError + "; device settled: " + settled + ", status "
                    + a.node().status() + ", rejections " + rejected.stream().map(r -> r.sqlState() + " " + r.reason()).toList();
            assertTrue(psqlError == null && settled && rejected.isEmpty(), outcome);
            c.awaitConverged("SELECT length(path) AS n, body FROM doc ORDER BY body", a);
            assertEquals(2, a.rows("SELECT path FROM doc").size());
        }
    }

    private static byte[] bytes(Connection conn, String sql) throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement(sql); ResultSet rs = ps.executeQuery()) {
            return rs.next() ? rs.getBytes(1) : null;
        }
    }

    private static String sha(byte[] b) throws Exception {
        return b == null ? null : HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    /**
     * One row holding a 5 MB TEXT and a 5 MB BLOB (bytea in PostgreSQL), written on a device, arrives byte
     * for byte in PostgreSQL and on a second device; the same from psql (a 6 MB bytea).
     */
    @Test
    void fiveMegabyteTextAndBlobSyncBothWays() throws Exception {
        String pgDdl = "CREATE TABLE attachment (id BIGINT PRIMARY KEY, body TEXT, data BYTEA)";
        String localDdl = "CREATE TABLE attachment (id INTEGER PRIMARY KEY, body TEXT, data BLOB)";
        Random rnd = new Random(11);
        byte[] blob = new byte[5 << 20];
        rnd.nextBytes(blob);
        StringBuilder text = new StringBuilder(5 << 20);
        for (int i = 0; i < (5 << 20); i++) {
            text.append((char) ('a' + rnd.nextInt(26)));
        }
        try (Cluster c = Cluster.start("limits_big_value", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            Client b = c.client("b", localDdl);
            List<Rejection> rejected = rejections(a);
            a.exec("INSERT INTO attachment (id, body, data) VALUES (1, ?, ?)", text.toString(), blob);
            a.awaitSynced();
            assertEquals(List.of(), rejected.stream().map(Rejection::reason).toList());
            try (Connection pg = c.pg()) {
                assertEquals(sha(blob), sha(bytes(pg, "SELECT data FROM attachment WHERE id = 1")));
                assertEquals(sha(text.toString().getBytes()), sha(bytes(pg, "SELECT convert_to(body, 'UTF8') FROM attachment WHERE id = 1")));
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> bytes(b.connection(), "SELECT data FROM attachment WHERE id = 1") != null);
            assertEquals(sha(blob), sha(bytes(b.connection(), "SELECT data FROM attachment WHERE id = 1")));
            assertEquals(sha(text.toString().getBytes()), sha(bytes(b.connection(), "SELECT CAST(body AS BLOB) FROM attachment WHERE id = 1")));

            byte[] fromPg = new byte[6 << 20];
            rnd.nextBytes(fromPg);
            try (Connection pg = c.pg(); PreparedStatement ps = pg.prepareStatement("INSERT INTO attachment (id, data) VALUES (2, ?)")) {
                ps.setBytes(1, fromPg);
                ps.executeUpdate();
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> bytes(a.connection(), "SELECT data FROM attachment WHERE id = 2") != null
                    && bytes(b.connection(), "SELECT data FROM attachment WHERE id = 2") != null);
            assertEquals(sha(fromPg), sha(bytes(a.connection(), "SELECT data FROM attachment WHERE id = 2")));
            assertEquals(sha(fromPg), sha(bytes(b.connection(), "SELECT data FROM attachment WHERE id = 2")));
        }
    }

    /**
     * psql stores an 11 MB bytea (a scanned document) in a synced table: its feed entry is 22 million
     * characters of hex. Devices must receive it, and the rows written after it; a row that cannot be
     * delivered must not stall every device's feed for good.
     */
    @Test
    void elevenMegabyteByteaFromPsqlReachesDevicesAndDoesNotStallTheFeed() throws Exception {
        String pgDdl = "CREATE TABLE scan (id BIGINT PRIMARY KEY, data BYTEA)";
        String localDdl = "CREATE TABLE scan (id INTEGER PRIMARY KEY, data BLOB)";
        byte[] big = new byte[11 << 20];
        new Random(3).nextBytes(big);
        try (Cluster c = Cluster.start("limits_huge_bytea", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            a.awaitSynced();
            try (Connection pg = c.pg(); PreparedStatement ps = pg.prepareStatement("INSERT INTO scan (id, data) VALUES (?, ?)")) {
                ps.setLong(1, 1);
                ps.setBytes(2, big);
                ps.executeUpdate();
            }
            c.pg("INSERT INTO scan (id, data) VALUES (2, '\\x01')");
            awaitRows(a, "SELECT id FROM scan ORDER BY id", 2, 40);
            assertEquals(sha(big), sha(bytes(a.connection(), "SELECT data FROM scan WHERE id = 1")));
        }
    }

    private static String nested(int depth) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < depth; i++) {
            sb.append("{\"c\":");
        }
        sb.append("1");
        sb.append("}".repeat(depth));
        return sb.toString();
    }

    /**
     * A JSON document nested 40 levels deep (a comment thread, a tree of UI components) written on a device
     * into a jsonb column arrives in PostgreSQL as that document, as a shallow one does, not as a JSON
     * string holding its text (which every jsonb query of the column would then miss).
     */
    @Test
    void deeplyNestedJsonDocumentFromADeviceArrivesAsADocument() throws Exception {
        String pgDdl = "CREATE TABLE settings (id BIGINT PRIMARY KEY, doc JSONB)";
        String localDdl = "CREATE TABLE settings (id INTEGER PRIMARY KEY, doc TEXT)";
        try (Cluster c = Cluster.start("limits_deep_json_up", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            List<Rejection> rejected = rejections(a);
            a.exec("INSERT INTO settings (id, doc) VALUES (1, ?)", nested(40));
            a.exec("INSERT INTO settings (id, doc) VALUES (2, ?)", nested(3));
            a.awaitSynced();
            assertEquals(List.of(), rejected.stream().map(Rejection::reason).toList());
            assertEquals(List.of(row("id", 1, "t", "object"), row("id", 2, "t", "object")),
                    c.pgRows("SELECT id, jsonb_typeof(doc) AS t FROM settings ORDER BY id"));
        }
    }

    /**
     * The same document written by psql reaches the device, and the rows written after it too: one
     * document must not stop the device's feed.
     */
    @Test
    void deeplyNestedJsonDocumentFromPsqlReachesDevicesAndDoesNotStallTheFeed() throws Exception {
        String pgDdl = "CREATE TABLE settings (id BIGINT PRIMARY KEY, doc JSONB)";
        String localDdl = "CREATE TABLE settings (id INTEGER PRIMARY KEY, doc TEXT)";
        String doc = nested(40);
        try (Cluster c = Cluster.start("limits_deep_json_down", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            a.awaitSynced();
            c.pg("INSERT INTO settings (id, doc) VALUES (3, '" + doc + "')",
                    "INSERT INTO settings (id, doc) VALUES (4, '{\"after\": true}')");
            awaitRows(a, "SELECT id FROM settings ORDER BY id", 2, 20);
            assertEquals(doc, a.rows("SELECT doc FROM settings WHERE id = 3").get(0).get("doc").toString().replace(" ", ""));
        }
    }

    /**
     * PostgreSQL accepts JSON nested thousands of levels deep (10,000 here; it stops at its stack depth), so
     * a psql user can write one. The user expects it to reach the devices like any document, and the rows
     * after it too: one document must neither stop the relay's feed nor leave a device reconnecting to read
     * the same page forever.
     */
    @Test
    void jsonNestedThousandsOfLevelsFromPsqlReachesDevicesAndDoesNotStallTheFeed() throws Exception {
        String pgDdl = "CREATE TABLE settings (id BIGINT PRIMARY KEY, doc JSONB)";
        String localDdl = "CREATE TABLE settings (id INTEGER PRIMARY KEY, doc TEXT)";
        String doc = nested(5_000);
        try (Cluster c = Cluster.start("limits_deeper_json_down", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            a.awaitSynced();
            c.pg("INSERT INTO settings (id, doc) VALUES (3, '" + doc + "')",
                    "INSERT INTO settings (id, doc) VALUES (4, '{\"after\": true}')");
            awaitRows(a, "SELECT id FROM settings ORDER BY id", 2, 30);
            assertEquals(doc, a.rows("SELECT doc FROM settings WHERE id = 3").get(0).get("doc").toString().replace(" ", ""));
            Client b = c.client("b", localDdl);
            awaitRows(b, "SELECT id FROM settings ORDER BY id", 2, 30);
            assertEquals(doc, b.rows("SELECT doc FROM settings WHERE id = 3").get(0).get("doc").toString().replace(" ", ""));
        }
    }

    /**
     * The same depth written on a device: PostgreSQL takes it, so the user expects it in PostgreSQL as a
     * document, and the device's later writes to sync behind it (not the connection closed and the
     * transaction resent forever).
     */
    @Test
    void jsonNestedThousandsOfLevelsFromADeviceArrivesAsADocument() throws Exception {
        String pgDdl = "CREATE TABLE settings (id BIGINT PRIMARY KEY, doc JSONB)";
        String localDdl = "CREATE TABLE settings (id INTEGER PRIMARY KEY, doc TEXT)";
        try (Cluster c = Cluster.start("limits_deeper_json_up", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            List<Rejection> rejected = rejections(a);
            a.exec("INSERT INTO settings (id, doc) VALUES (1, ?)", nested(5_000));
            a.exec("INSERT INTO settings (id, doc) VALUES (2, ?)", nested(3));
            a.awaitSynced();
            assertEquals(List.of(), rejected.stream().map(Rejection::reason).toList());
            assertEquals(List.of(row("id", 1, "t", "object"), row("id", 2, "t", "object")),
                    c.pgRows("SELECT id, jsonb_typeof(doc) AS t FROM settings ORDER BY id"));
        }
    }

    /**
     * A device writes a 3,000-character title into a table whose PostgreSQL side has an ordinary index on
     * title (SQLite has no such limit; PostgreSQL refuses index entries over 2,704 bytes with 54000). The
     * user expects the write to be refused and the application told (a rejection, the row reverted), and
     * the device's later writes to keep syncing: not the transaction resent forever, holding up every
     * later one.
     */
    @Test
    void valueTooLongForAPostgresIndexIsRejectedNotResentForever() throws Exception {
        Random rnd = new Random(5);
        StringBuilder title = new StringBuilder();
        for (int i = 0; i < 3000; i++) {
            title.append((char) ('!' + rnd.nextInt(90)));
        }
        String[] pgDdl = {"CREATE TABLE note (id BIGINT PRIMARY KEY, title TEXT)", "CREATE INDEX note_title ON note (title)"};
        String localDdl = "CREATE TABLE note (id INTEGER PRIMARY KEY, title TEXT)";
        try (Cluster c = Cluster.start("limits_index_row", dir, pgDdl)) {
            Client a = c.client("a", localDdl);
            List<Rejection> rejected = rejections(a);
            a.exec("INSERT INTO note (id, title) VALUES (1, ?)", title.toString());
            a.exec("INSERT INTO note (id, title) VALUES (2, 'short')");
            waitSettled(a, rejected);
            assertEquals(List.of("54000"), rejected.stream().map(Rejection::sqlState).toList());
            c.awaitConverged("SELECT id, title FROM note ORDER BY id", a);
            assertEquals(List.of(row("id", 2, "title", "short")), a.rows("SELECT id, title FROM note ORDER BY id"));
        }
    }

    /**
     * A schema of 150 synced tables (an ERP-sized application): every table syncs both ways from one device
     * to another, and an empty-string text key is a key like any other.
     */
    @Test
    void oneHundredFiftySyncedTablesAndAnEmptyStringKeySync() throws Exception {
        int n = 150;
        String[] pg = new String[n + 1];
        String[] local = new String[n + 1];
        for (int i = 0; i < n; i++) {
            pg[i] = "CREATE TABLE t" + i + " (id BIGINT PRIMARY KEY, v TEXT)";
            local[i] = "CREATE TABLE t" + i + " (id INTEGER PRIMARY KEY, v TEXT)";
        }
        pg[n] = "CREATE TABLE tag (name TEXT PRIMARY KEY, v TEXT)";
        local[n] = pg[n];
        try (Cluster c = Cluster.start("limits_many_tables", dir, pg)) {
            Client a = c.client("a", local);
            Client b = c.client("b", local);
            List<Rejection> rejected = rejections(a);
            a.connection().setAutoCommit(false);
            for (int i = 0; i < n; i++) {
                a.exec("INSERT INTO t" + i + " (id, v) VALUES (1, 'a')");
            }
            a.exec("INSERT INTO tag (name, v) VALUES ('', 'empty')");
            a.connection().commit();
            a.connection().setAutoCommit(true);
            a.awaitSynced();
            for (int i = 0; i < n; i += 7) {
                c.pg("INSERT INTO t" + i + " (id, v) VALUES (2, 'psql')");
            }
            c.pg("UPDATE tag SET v = 'empty from psql' WHERE name = ''");
            StringBuilder union = new StringBuilder();
            for (int i = 0; i < n; i++) {
                union.append(i == 0 ? "" : " UNION ALL ").append("SELECT 't").append(i).append("' AS t, id, v FROM t").append(i);
            }
            String all = "SELECT t, id, v FROM (" + union + ") AS u ORDER BY t, id";
            c.awaitConverged(all, a, b);
            c.awaitConverged("SELECT name, v FROM tag", a, b);
            assertEquals(n + (n + 6) / 7, a.rows(all).size());
            assertEquals(List.of(row("name", "", "v", "empty from psql")), b.rows("SELECT name, v FROM tag"));
            b.exec("DELETE FROM tag WHERE name = ''");
            b.awaitSynced();
            c.awaitConverged("SELECT name, v FROM tag", a, b);
            assertEquals(List.of(), a.rows("SELECT name, v FROM tag"));
            assertEquals(List.of(), rejected);
        }
    }

    /**
     * A psql statement writes 9,000 rows of 50 KB each in one commit (a migration filling a column of
     * documents: 450 MB). DESIGN.md promises such a commit is "read and sent in parts from PostgreSQL,
     * never held whole"; the user expects it to reach a connected device through a relay running with a
     * 256 MB heap, as it would for small rows.
     */
    @Test
    void bulkPsqlCommitOfLargeRowsReachesDevicesThroughARelayWithAModestHeap() throws Exception {
        String pgDdl = "CREATE TABLE page (id BIGINT PRIMARY KEY, body TEXT)";
        String localDdl = "CREATE TABLE page (id INTEGER PRIMARY KEY, body TEXT)";
        try (Cluster c = Cluster.start("limits_feed_memory", dir, pgDdl)) {
            c.stopRelay();
            io.syncsqlite.it.support.PostgresFixture.Server server = io.syncsqlite.it.support.PostgresFixture.server();
            int port;
            try (java.net.ServerSocket ss = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                port = ss.getLocalPort();
            }
            List<String> cmd = new java.util.ArrayList<>(List.of(
                    System.getProperty("java.home") + "/bin/java", "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                    "io.syncsqlite.relay.RelayMain", "--pg-url", c.dbUrl(), "--pg-user", server.user(),
                    "--host", "127.0.0.1", "--port", String.valueOf(port)));
            if (!server.password().isEmpty()) {
                cmd.add("--pg-password");
                cmd.add(server.password());
            }
            Path log = dir.resolve("relay.log");
            Process relay = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
            c.closeWith(relay::destroyForcibly);
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> {
                try (java.net.Socket ignored = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), port)) {
                    return true;
                }
            });
            Client a = c.open("a", c.file("a", localDdl), new io.syncsqlite.it.harness.TcpProxy(port));
            a.awaitSynced();
            c.pg("INSERT INTO page SELECT g, repeat(md5(g::text), 1600) FROM generate_series(1, 9000) AS g");
            long deadline = System.nanoTime() + 60_000_000_000L;
            long count = 0;
            while (System.nanoTime() < deadline && relay.isAlive()) {
                count = (Long) a.rows("SELECT count(*) AS n FROM page").get(0).get("n");
                if (count == 9000) {
                    break;
                }
                Thread.sleep(200);
            }
            String tail = java.nio.file.Files.readAllLines(log).stream().filter(l -> l.contains("Error") || l.contains("WARN"))
                    .limit(5).toList().toString();
            assertEquals(9000L, count, "rows on the device; relay alive: " + relay.isAlive() + "; relay log: " + tail);
        }
    }

    /** Waits up to 30 s for every local write to be answered; fails with what the client last reported. */
    private static void waitSettled(Client a, List<Rejection> rejected) throws Exception {
        if (!a.node().awaitSynced(Duration.ofSeconds(30))) {
            throw new AssertionError("not settled within 30 s: " + a.node().status() + "; rejections "
                    + rejected.stream().map(r -> r.sqlState() + " " + r.reason()).toList());
        }
    }

    /** Waits for {@code n} rows on the device, collecting the distinct errors its status reports meanwhile. */
    private static void awaitRows(Client a, String sql, int n, int seconds) throws Exception {
        java.util.Set<String> errors = new java.util.LinkedHashSet<>();
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (a.rows(sql).size() == n) {
                return;
            }
            String e = a.node().status().lastError();
            if (e != null) {
                errors.add(e.length() > 300 ? e.substring(0, 300) : e);
            }
            Thread.sleep(20);
        }
        throw new AssertionError("device holds " + a.rows(sql) + " after " + seconds + " s; errors seen: " + errors);
    }
}
