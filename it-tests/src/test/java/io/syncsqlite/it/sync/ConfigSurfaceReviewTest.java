package io.syncsqlite.it.sync;

import io.syncsqlite.driver.jdbc.SyncConnection;
import io.syncsqlite.driver.jdbc.SyncDriver;
import io.syncsqlite.driver.sync.SyncNode;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.relay.Relay;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Driver;
import java.sql.DriverManager;
import java.sql.DriverPropertyInfo;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.stream.Collectors;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Review (2026-12-06): the configuration surface as a developer adopting syncsqlite from README.md and
 * docs/DESIGN.md sees it: every documented {@code sync.*} option (defaults, a non-default value taking effect,
 * invalid values refused at connect with SQLState 22023), URL forms, Properties versus URL, driver discovery,
 * offline-first start with the relay unreachable, and the README's quick start. Nine cases failed and were fixed
 * the same session: a later connection's sync options silently ignored (the file's node is shared), a misspelled
 * {@code Sync.} key opening another file, {@code sync.node=~pg} accepted (the relay refuses it forever),
 * {@code file::memory:} taken for a file, {@code sync.batchRows} wrapping past int, non-string Properties values
 * ignored, {@code getPropertyInfo} ignoring the URL, and the relay taking an empty PostgreSQL URL given with
 * credentials for "start an embedded one".
 */
class ConfigSurfaceReviewTest {

    private static final String QUICK_START_DDL =
            "CREATE TABLE IF NOT EXISTS note (id TEXT PRIMARY KEY, body TEXT, done INTEGER)";
    private static final String LOCAL_ITEM = "CREATE TABLE IF NOT EXISTS item (id TEXT PRIMARY KEY, v TEXT)";
    private static final String LOCAL_OTHER = "CREATE TABLE IF NOT EXISTS other (id TEXT PRIMARY KEY, v TEXT)";

    private static RelayFixture f;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        f = RelayFixture.start("cfgreview",
                "CREATE TABLE note (id text PRIMARY KEY, body text, done integer)",
                "CREATE TABLE item (id text PRIMARY KEY, v text)",
                "CREATE TABLE other (id text PRIMARY KEY, v text)",
                "CREATE TABLE counted (id bigserial PRIMARY KEY, v text)",
                "CREATE TABLE served (id text PRIMARY KEY, v text)",
                "INSERT INTO served VALUES ('srv-1', 'from pg')");
    }

    @AfterAll
    static void stop() {
        if (f != null) {
            f.close();
        }
    }

    private String syncUrl(Path file, String extra) {
        return "jdbc:syncsqlite:" + file + "?sync.server=" + f.uri() + "&sync.lingerMs=0&sync.reconnectMaxMs=300"
                + extra;
    }

    private static void exec(Connection c, String... sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            for (String s : sql) {
                st.execute(s);
            }
        }
    }

    private static SyncNode node(Connection c) throws SQLException {
        return c.unwrap(SyncConnection.class).node();
    }

    private static long pgCount(String table, String id) {
        return f.queryLong("SELECT count(*) FROM " + table + " WHERE id = '" + id + "'");
    }

    private static void awaitInPg(String table, String id) {
        await().atMost(Duration.ofSeconds(20)).until(() -> pgCount(table, id) == 1);
    }

    private static SQLException refused(String url, Properties props) {
        SQLException e = assertThrows(SQLException.class, () -> {
            try (Connection c = props == null ? DriverManager.getConnection(url) : DriverManager.getConnection(url, props)) {
                fail("connected although the configuration is invalid: " + url + " " + props);
            }
        }, url);
        return e;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Invalid values: refused at connect with 22023 and a message naming the option.

    @Test
    void invalidOptionValuesAreRefusedAtConnectWith22023() {
        Path file = dir.resolve("invalid.db");
        String base = "jdbc:syncsqlite:" + file + "?";
        Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put("sync.sever=ws://127.0.0.1:1/sync", "sync.sever");             // misspelled name
        cases.put("sync.batchRows=abc", "sync.batchRows");                       // wrong type
        cases.put("sync.batchRows=-1", "sync.batchRows");                        // negative
        cases.put("sync.batchRows=0", "sync.batchRows");
        cases.put("sync.batchRows=", "sync.batchRows");                          // empty
        cases.put("sync.lingerMs=-5", "sync.lingerMs");
        cases.put("sync.reconnectMaxMs=0", "sync.reconnectMaxMs");
        cases.put("sync.reconnectMaxMs=1.5", "sync.reconnectMaxMs");
        cases.put("sync.idBlock=0", "sync.idBlock");
        cases.put("sync.idBlock=100000000000", "sync.idBlock");
        cases.put("sync.enabled=yes", "sync.enabled");
        cases.put("sync.enabled=", "sync.enabled");
        cases.put("sync.schema=remote", "sync.schema");
        cases.put("sync.server=http://127.0.0.1:7780/sync", "sync.server");      // wrong scheme
        cases.put("sync.server=ws:///sync", "sync.server");                      // no host
        cases.put("sync.counters=qty", "sync.counters");                         // not table.column
        cases.put("sync.lww=item.", "sync.lww");
        List<String> wrong = new ArrayList<>();
        for (Map.Entry<String, String> c : cases.entrySet()) {
            try (Connection conn = DriverManager.getConnection(base + c.getKey())) {
                wrong.add(c.getKey() + " -> connected");
            } catch (SQLException e) {
                if (!"22023".equals(e.getSQLState()) || e.getMessage() == null
                        || !e.getMessage().contains(c.getValue())) {
                    wrong.add(c.getKey() + " -> " + e.getSQLState() + " " + e.getMessage());
                }
            }
        }
        assertEquals(List.of(), wrong, "each invalid option must fail at connect with 22023 naming the option");
        assertFalse(Files.exists(file), "a refused configuration must not create the file");
    }

    /** A number past int's range is truncated by a cast, not refused: 4294967297 becomes a batch of 1 row. */
    @Test
    void batchRowsBeyondIntRangeIsRefusedNotWrapped() throws Exception {
        Path file = dir.resolve("wrap.db");
        SQLException e = refused("jdbc:syncsqlite:" + file + "?sync.batchRows=4294967297", null);
        assertEquals("22023", e.getSQLState());
    }

    /**
     * README: options are URL parameters or connection properties. A property put with a non-String value
     * (props.put("sync.enabled", false), a frequent Java idiom, or Spring's Map-to-Properties binding) is
     * dropped by Properties.stringPropertyNames: the option is silently not applied.
     */
    @Test
    void aNonStringPropertyValueIsNotSilentlyIgnored() throws Exception {
        Path file = dir.resolve("nonstring.db");
        Properties props = new Properties();
        props.put("sync.batchRows", -5);          // invalid as a string: refused with 22023
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file, props)) {
            fail("sync.batchRows=-5 given as an Integer property was accepted without a word");
        } catch (SQLException e) {
            assertEquals("22023", e.getSQLState(), e.getMessage());
        }
    }

    /**
     * A sync option whose prefix is capitalised ("Sync.lingerMs") is not taken for a sync option: it goes to
     * sqlite-jdbc, which keeps parameters it does not know in the file name. The application then works on a new,
     * empty file literally named "case.db?Sync.lingerMs=0" next to its own, and no error is raised. The same for
     * any misspelled non-sync parameter ("jornal_mode=WAL").
     */
    @Test
    void aMisspelledOptionDoesNotOpenAnotherFile() throws Exception {
        Path file = dir.resolve("case.db");
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file)) {
            exec(plain, LOCAL_ITEM, "INSERT INTO item VALUES ('case-1', 'mine')");
        }
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?Sync.lingerMs=0");
             ResultSet rs = c.createStatement().executeQuery(
                     "SELECT count(*) FROM sqlite_schema WHERE name = 'item'")) {
            assertTrue(rs.next());
            List<String> strays;
            try (var list = Files.list(dir)) {
                strays = list.map(p -> p.getFileName().toString()).filter(n -> n.contains("?")).toList();
            }
            assertEquals(1, rs.getInt(1), "the connection opened another database than " + file + "; files made: "
                    + strays);
        } catch (SQLException e) {
            assertEquals("22023", e.getSQLState(), e.getMessage()); // refusing the option is fine too
        }
    }

    /**
     * SQLite's URI form of an in-memory database, "file::memory:": with sqlite-jdbc every connection gets a database
     * of its own. Through the driver the second connection (while the first is open or its node lingers) fails with
     * "no such table: _sync_outbox" and SQLState null: SyncUrl.isFile() takes "file::memory:" for a file, so every
     * such connection in the JVM joins one node keyed by the path "<cwd>/::memory:", set up in another database.
     */
    @Test
    void inMemoryUriConnectionsAreIndependentAsWithSqliteJdbc() throws Exception {
        String uri = "file::memory:";
        try (Connection a = DriverManager.getConnection("jdbc:sqlite:" + uri);
             Connection b = DriverManager.getConnection("jdbc:sqlite:" + uri)) {
            exec(a, LOCAL_ITEM);
            exec(b, LOCAL_ITEM); // a database of its own
        }
        try (Connection a = DriverManager.getConnection("jdbc:syncsqlite:" + uri + "?sync.lingerMs=0")) {
            exec(a, LOCAL_ITEM, "INSERT INTO item VALUES ('mem-a', 'x')");
            try (Connection b = DriverManager.getConnection("jdbc:syncsqlite:" + uri + "?sync.lingerMs=0")) {
                exec(b, LOCAL_ITEM, "INSERT INTO item VALUES ('mem-b', 'y')");
                try (ResultSet rs = b.createStatement().executeQuery("SELECT count(*) FROM item")) {
                    assertTrue(rs.next());
                    assertEquals(1, rs.getInt(1));
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Options taking effect.

    /** The README's quick start, as written (a relay URL, CREATE TABLE IF NOT EXISTS, a UUID key). */
    @Test
    void readmeQuickStartSyncs() throws Exception {
        Path file = dir.resolve("app.db");
        String id = UUID.randomUUID().toString();
        String url = "jdbc:syncsqlite:" + file + "?sync.server=" + f.uri();
        try (Connection c = DriverManager.getConnection(url)) {
            c.createStatement().execute(QUICK_START_DDL);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO note VALUES (?, ?, 0)")) {
                ps.setString(1, id);
                ps.setString(2, "works offline");
                assertEquals(1, ps.executeUpdate());
            }
            // committed locally at once
            try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file);
                 ResultSet rs = plain.createStatement().executeQuery("SELECT body FROM note WHERE id = '" + id + "'")) {
                assertTrue(rs.next());
                assertEquals("works offline", rs.getString(1));
            }
        }
        // "synced in the background": the default sync.lingerMs (2 s) keeps it going after close
        awaitInPg("note", id);
    }

    @Test
    void enabledFalseCapturesWithoutSyncingAndSyncsOnceEnabled() throws Exception {
        Path file = dir.resolve("disabled.db");
        try (Connection c = DriverManager.getConnection(syncUrl(file, "&sync.enabled=false"))) {
            exec(c, LOCAL_ITEM, "INSERT INTO item VALUES ('dis-1', 'a')");
            assertFalse(node(c).awaitSynced(Duration.ofSeconds(2)), "sync.enabled=false must not sync");
            assertFalse(node(c).status().connected());
            assertEquals(0, pgCount("item", "dis-1"));
        }
        try (Connection c = DriverManager.getConnection(syncUrl(file, ""))) {
            assertTrue(node(c).awaitSynced(Duration.ofSeconds(20)), "captured while disabled, synced once enabled");
            assertEquals(1, pgCount("item", "dis-1"));
        }
    }

    @Test
    void tablesOptionLimitsWhatSyncs() throws Exception {
        Path file = dir.resolve("tables.db");
        try (Connection c = DriverManager.getConnection(syncUrl(file, "&sync.tables=ITEM"))) {
            exec(c, LOCAL_ITEM, LOCAL_OTHER, "INSERT INTO item VALUES ('tab-1', 'a')",
                    "INSERT INTO other VALUES ('tab-1', 'b')");
            assertTrue(node(c).awaitSynced(Duration.ofSeconds(20)));
            assertEquals(1, pgCount("item", "tab-1"), "listed table (case-insensitive) syncs");
            assertEquals(0, pgCount("other", "tab-1"), "unlisted table stays local");
        }
    }

    @Test
    void nodeOptionNamesTheNode() throws Exception {
        Path file = dir.resolve("node.db");
        try (Connection c = DriverManager.getConnection(syncUrl(file, "&sync.node=review-node-1"))) {
            assertEquals("review-node-1", node(c).nodeId());
        }
        try (Connection c = DriverManager.getConnection(syncUrl(file, ""))) {
            assertEquals("review-node-1", node(c).nodeId(), "stored in the file");
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Properties, URL, driver discovery.

    @Test
    void optionsThroughPropertiesAndUrlWinsOverProperties() throws Exception {
        int dead;
        try (ServerSocket s = new ServerSocket(0)) {
            dead = s.getLocalPort();
        }
        // Properties only.
        Path file = dir.resolve("props.db");
        Properties p = new Properties();
        p.setProperty("sync.server", f.uri().toString());
        p.setProperty("sync.lingerMs", "0");
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file, p)) {
            exec(c, LOCAL_ITEM, "INSERT INTO item VALUES ('props-1', 'a')");
            assertTrue(node(c).awaitSynced(Duration.ofSeconds(20)));
            assertEquals(1, pgCount("item", "props-1"));
        }
        // Both: the URL wins (SyncUrl's documented rule, as in sqlite-jdbc).
        Path file2 = dir.resolve("both.db");
        Properties q = new Properties();
        q.setProperty("sync.server", "ws://127.0.0.1:" + dead + "/sync");
        q.setProperty("sync.lingerMs", "0");
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file2 + "?sync.server=" + f.uri(), q)) {
            exec(c, LOCAL_ITEM, "INSERT INTO item VALUES ('both-1', 'a')");
            assertTrue(node(c).awaitSynced(Duration.ofSeconds(20)), "URL's sync.server wins: " + node(c).status());
            assertEquals(1, pgCount("item", "both-1"));
        }
        // An invalid value in Properties is refused like one in the URL.
        Properties bad = new Properties();
        bad.setProperty("sync.batchrows", "10");
        assertEquals("22023", refused("jdbc:syncsqlite:" + dir.resolve("bad.db"), bad).getSQLState());
    }

    @Test
    void driverManagerFindsTheDriverAndListsItsOptions() throws Exception {
        Driver d = DriverManager.getDriver("jdbc:syncsqlite:x.db");
        assertInstanceOf(SyncDriver.class, d);
        assertTrue(d.acceptsURL("jdbc:syncsqlite::memory:"));
        assertFalse(d.acceptsURL("jdbc:sqlite:x.db"));
        assertFalse(d.acceptsURL(null));
        assertEquals(null, d.connect("jdbc:sqlite:x.db", new Properties()), "other drivers' URLs: null");
        Properties p = new Properties();
        p.setProperty("sync.token", "secret-token");
        DriverPropertyInfo[] info = d.getPropertyInfo("jdbc:syncsqlite:x.db", p);
        List<String> keys = Arrays.stream(info).map(i -> i.name).toList();
        for (String k : List.of("sync.server", "sync.tables", "sync.counters", "sync.lww", "sync.node", "sync.enabled",
                "sync.reconnectMaxMs", "sync.batchRows", "sync.lingerMs", "sync.idBlock", "sync.token", "sync.schema",
                "sync.trustStore", "sync.trustStorePassword")) {
            assertTrue(keys.contains(k), "getPropertyInfo lists " + k + ": " + keys);
        }
        Map<String, String> values = Arrays.stream(info).collect(Collectors.toMap(i -> i.name, i -> i.value));
        assertEquals("2000", values.get("sync.batchRows"));
        assertEquals("true", values.get("sync.enabled"));
        assertEquals("local", values.get("sync.schema"));
        assertFalse(values.get("sync.token").contains("secret-token"), "token masked");
    }

    /** JDBC: getPropertyInfo(url, info) describes the connection the URL would make; tools show these values. */
    @Test
    void propertyInfoReflectsOptionsGivenInTheUrl() throws Exception {
        Driver d = DriverManager.getDriver("jdbc:syncsqlite:x.db");
        DriverPropertyInfo[] info = d.getPropertyInfo("jdbc:syncsqlite:x.db?sync.batchRows=50&sync.enabled=false", null);
        Map<String, String> values = Arrays.stream(info).collect(Collectors.toMap(i -> i.name, i -> i.value));
        assertEquals("50", values.get("sync.batchRows"), "value from the URL");
        assertEquals("false", values.get("sync.enabled"), "value from the URL");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // URL forms.

    @Test
    void pathsWithSpacesAmpersandsAndFileUris() throws Exception {
        Path weird = Files.createDirectories(dir.resolve("my dir & co"));
        Path file = weird.resolve("app data.db");
        try (Connection c = DriverManager.getConnection(syncUrl(file, ""))) {
            exec(c, LOCAL_ITEM, "INSERT INTO item VALUES ('path-1', 'a')");
            assertTrue(node(c).awaitSynced(Duration.ofSeconds(20)), "status " + node(c).status());
        }
        assertTrue(Files.exists(file), "the file is created at the path as written");
        assertEquals(1, pgCount("item", "path-1"));

        // A file: URI with an encoded '?' and space, and a sqlite-jdbc parameter besides the sync ones.
        Path q = Files.createDirectories(dir.resolve("q?dir"));
        String uri = "file:" + q.toString().replace("?", "%3F").replace(" ", "%20").replace("&", "%26") + "/u.db";
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + uri + "?busy_timeout=4000&sync.server="
                + f.uri() + "&sync.lingerMs=0")) {
            exec(c, LOCAL_ITEM, "INSERT INTO item VALUES ('path-2', 'a')");
            assertTrue(node(c).awaitSynced(Duration.ofSeconds(20)), "status " + node(c).status());
        }
        assertTrue(Files.exists(q.resolve("u.db")), "file: URI decoded to " + q.resolve("u.db"));
        assertEquals(1, pgCount("item", "path-2"));
    }

    @Test
    void relativePathIsRelativeToTheWorkingDirectory() throws Exception {
        String rel = "target/cfgreview-" + UUID.randomUUID() + ".db";
        Path abs = Path.of(rel).toAbsolutePath();
        try {
            try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + rel + "?sync.server=" + f.uri()
                    + "&sync.lingerMs=0")) {
                exec(c, LOCAL_ITEM, "INSERT INTO item VALUES ('rel-1', 'a')");
                assertTrue(node(c).awaitSynced(Duration.ofSeconds(20)));
            }
            assertTrue(Files.exists(abs));
            // The same file by its absolute path is the same node.
            try (Connection a = DriverManager.getConnection("jdbc:syncsqlite:" + abs + "?sync.lingerMs=0");
                 ResultSet rs = a.createStatement().executeQuery("SELECT count(*) FROM item WHERE id = 'rel-1'")) {
                assertTrue(rs.next());
                assertEquals(1, rs.getInt(1));
            }
            assertEquals(1, pgCount("item", "rel-1"));
        } finally {
            for (String s : List.of("", "-wal", "-shm", "-synclock")) {
                Files.deleteIfExists(Path.of(abs + s));
            }
        }
    }

    @Test
    void inMemoryDatabaseWorksLocally() throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite::memory:?sync.lingerMs=0")) {
            exec(c, LOCAL_ITEM, "INSERT INTO item VALUES ('mem-1', 'a')");
            try (ResultSet rs = c.createStatement().executeQuery("SELECT v FROM item")) {
                assertTrue(rs.next());
                assertEquals("a", rs.getString(1));
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Offline first.

    @Test
    void relayUnreachableAtConnectThenSyncsWhenItComesUp() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path file = dir.resolve("offline.db");
        String url = "jdbc:syncsqlite:" + file + "?sync.server=ws://127.0.0.1:" + port + "/sync&sync.reconnectMaxMs=300"
                + "&sync.lingerMs=0";
        try (Connection c = DriverManager.getConnection(url)) {
            exec(c, LOCAL_ITEM, "INSERT INTO item VALUES ('off-1', 'a')");
            SyncNode n = node(c);
            assertFalse(n.status().connected());
            await().atMost(Duration.ofSeconds(10)).until(() -> n.status().lastError() != null);
            Relay late = Relay.start(f.config().withPort(port));
            try {
                assertTrue(n.awaitSynced(Duration.ofSeconds(20)), "synced once the relay is up: " + n.status());
                assertEquals(1, pgCount("item", "off-1"));
            } finally {
                late.close();
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Several connections to one file.

    /**
     * The first connection to a file fixes its node's configuration; a later connection's options are ignored
     * without a word. A migration or admin connection opened without sync.server (or a pool warming up with
     * another URL) makes the application's sync.server connection capture only: nothing ever syncs.
     */
    @Test
    void aSecondConnectionsSyncServerIsNotSilentlyIgnored() throws Exception {
        Path file = dir.resolve("second.db");
        try (Connection captureOnly = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0")) {
            exec(captureOnly, LOCAL_ITEM);
            Connection app;
            try {
                app = DriverManager.getConnection(syncUrl(file, ""));
            } catch (SQLException e) {
                assertEquals("22023", e.getSQLState(), e.getMessage()); // refusing the conflict is fine too
                return;
            }
            try (app) {
                exec(app, "INSERT INTO item VALUES ('second-1', 'a')");
                assertTrue(node(app).awaitSynced(Duration.ofSeconds(10)),
                        "a connection opened with sync.server=" + f.uri() + " neither synced nor was refused: status "
                                + node(app).status());
                assertEquals(1, pgCount("item", "second-1"));
            }
        }
    }

    /** Same with the node's linger: a capture-only connection closed just before (default sync.lingerMs 2 s). */
    @Test
    void aSyncConnectionRightAfterACaptureOnlyOneSyncs() throws Exception {
        Path file = dir.resolve("linger.db");
        try (Connection migrate = DriverManager.getConnection("jdbc:syncsqlite:" + file)) {
            exec(migrate, LOCAL_ITEM);
        }
        try (Connection app = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.server=" + f.uri())) {
            exec(app, "INSERT INTO item VALUES ('linger-1', 'a')");
            assertTrue(node(app).awaitSynced(Duration.ofSeconds(10)),
                    "opened with sync.server within the previous node's linger: status " + node(app).status());
        }
        assertNotNull(file);
        assertEquals(1, pgCount("item", "linger-1"));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // More options taking effect.

    /** "an offline client can insert sync.idBlock to 2 x sync.idBlock keyless rows per table" (Known limits). */
    @Test
    void idBlockSetsTheKeyStock() throws Exception {
        Path small = dir.resolve("idblock.db");
        try (Connection c = DriverManager.getConnection(syncUrl(small, "&sync.idBlock=3"))) {
            exec(c, "CREATE TABLE counted (id INTEGER PRIMARY KEY, v TEXT)");
            SyncNode n = node(c);
            await().atMost(Duration.ofSeconds(20)).until(() -> n.keysAvailable("counted") > 0);
            long stock = n.keysAvailable("counted");
            assertTrue(stock >= 3 && stock <= 6, "sync.idBlock=3 gives 3 to 6 keys, got " + stock);
        }
        Path dflt = dir.resolve("idblock-default.db");
        try (Connection c = DriverManager.getConnection(syncUrl(dflt, ""))) {
            exec(c, "CREATE TABLE counted (id INTEGER PRIMARY KEY, v TEXT)");
            SyncNode n = node(c);
            await().atMost(Duration.ofSeconds(20)).until(() -> n.keysAvailable("counted") > 0);
            long stock = n.keysAvailable("counted");
            assertTrue(stock >= 1000 && stock <= 2000, "default sync.idBlock=1000 gives 1000 to 2000 keys, got " + stock);
        }
    }

    @Test
    void schemaServerCreatesMissingTablesWithTheirRows() throws Exception {
        Path file = dir.resolve("schema-server.db");
        try (Connection c = DriverManager.getConnection(syncUrl(file, "&sync.schema=server&sync.tables=served"))) {
            await().atMost(Duration.ofSeconds(20)).until(() -> {
                try (Statement st = c.createStatement();
                     ResultSet rs = st.executeQuery("SELECT count(*) FROM sqlite_schema WHERE name = 'served'")) {
                    rs.next();
                    if (rs.getInt(1) == 0) {
                        return false;
                    }
                }
                try (Statement st = c.createStatement();
                     ResultSet rs = st.executeQuery("SELECT v FROM served WHERE id = 'srv-1'")) {
                    return rs.next() && "from pg".equals(rs.getString(1));
                }
            });
        }
    }

    /** README: anything that is not sync.* goes to sqlite-jdbc unchanged (URL or Properties). */
    @Test
    void nonSyncOptionsReachSqliteJdbc() throws Exception {
        Path file = dir.resolve("passthrough.db");
        Properties p = new Properties();
        p.setProperty("foreign_keys", "true");
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?busy_timeout=4321&sync.lingerMs=0", p);
             Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("PRAGMA foreign_keys")) {
                assertTrue(rs.next());
                assertEquals(1, rs.getInt(1), "foreign_keys from Properties");
            }
            try (ResultSet rs = st.executeQuery("PRAGMA busy_timeout")) {
                assertTrue(rs.next());
                assertEquals(4321, rs.getInt(1), "busy_timeout from the URL");
            }
        }
    }

    /**
     * sync.node is accepted at connect whatever its length, but the protocol allows 1 to 64 characters: a
     * longer id (a device serial with a prefix, a hash in hex) opens fine, captures, and never syncs.
     */
    @Test
    void aNodeIdTheProtocolRefusesIsRefusedAtConnect() throws Exception {
        Path file = dir.resolve("longnode.db");
        String id = "device-" + "0123456789abcdef".repeat(4); // 71 characters
        try (Connection c = DriverManager.getConnection(syncUrl(file, "&sync.node=" + id))) {
            exec(c, LOCAL_ITEM, "INSERT INTO item VALUES ('long-1', 'a')");
            assertTrue(node(c).awaitSynced(Duration.ofSeconds(10)),
                    "a 71-character sync.node was accepted at connect, but nothing syncs: " + node(c).status());
            assertEquals(1, pgCount("item", "long-1"));
        } catch (SQLException e) {
            assertEquals("22023", e.getSQLState(), e.getMessage());
        }
    }

    /**
     * '~pg' is the node id the relay stamps direct PostgreSQL writes with (DESIGN.md, "Hybrid logical clock").
     * A device configured with it must either be refused at connect or sync like any other.
     */
    @Test
    void theReservedNodeIdOfPostgresIsRefusedOrHarmless() throws Exception {
        Path file = dir.resolve("pgnode.db");
        Connection c;
        try {
            c = DriverManager.getConnection(syncUrl(file, "&sync.node=~pg"));
        } catch (SQLException e) {
            assertEquals("22023", e.getSQLState(), e.getMessage());
            return;
        }
        try (c) {
            exec(c, LOCAL_OTHER, "INSERT INTO other VALUES ('pgn-1', 'device')");
            assertTrue(node(c).awaitSynced(Duration.ofSeconds(8)),
                    "sync.node=~pg was accepted at connect, but nothing syncs: " + node(c).status());
            assertEquals(1, pgCount("other", "pgn-1"));
            f.execute("UPDATE other SET v = 'psql' WHERE id = 'pgn-1'");
            await().atMost(Duration.ofSeconds(20)).until(() -> {
                try (Statement st = c.createStatement();
                     ResultSet rs = st.executeQuery("SELECT v FROM other WHERE id = 'pgn-1'")) {
                    return rs.next() && "psql".equals(rs.getString(1));
                }
            });
            exec(c, "UPDATE other SET v = 'device again' WHERE id = 'pgn-1'");
            assertTrue(node(c).awaitSynced(Duration.ofSeconds(20)));
            assertEquals(List.of(List.of("device again")), f.query("SELECT v FROM other WHERE id = 'pgn-1'"));
        }
    }

    /** README: sync.server takes relay URL(s), comma-separated: a dead first relay does not stop sync. */
    @Test
    void severalRelaysTheFirstDown() throws Exception {
        int dead;
        try (ServerSocket s = new ServerSocket(0)) {
            dead = s.getLocalPort();
        }
        Path file = dir.resolve("two-relays.db");
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.server=ws://127.0.0.1:" + dead
                + "/sync," + f.uri() + "&sync.lingerMs=0&sync.reconnectMaxMs=300")) {
            exec(c, LOCAL_ITEM, "INSERT INTO item VALUES ('two-1', 'a')");
            assertTrue(node(c).awaitSynced(Duration.ofSeconds(20)), "status " + node(c).status());
            assertEquals(1, pgCount("item", "two-1"));
        }
    }

    /** The relay's command line: every invalid option value refused with a message naming it (exit 2). */
    @Test
    void relayCommandLineRefusesInvalidOptions() throws Exception {
        java.lang.reflect.Method parse = Class.forName("io.syncsqlite.relay.RelayMain")
                .getDeclaredMethod("parse", String[].class, Map.class);
        parse.setAccessible(true);
        String[][] cases = {
            {"--port", "abc"}, {"--port", "-1"}, {"--port", "70000"}, {"--prot", "7780"}, {"--pool-size", "0"},
            {"--max-frame-bytes", "10"}, {"--log-format", "xml"}, {"--pg-url", "postgresql://db/app"},
            {"--retention-hours", "0"}, {"--scopes", "s.json"}, {"--jwt-audience", "a"}, {"--port"},
            {"--lock-timeout-ms", "5000", "--statement-timeout-ms", "5000"}, {"--host", ""},
        };
        List<String> wrong = new ArrayList<>();
        for (String[] args : cases) {
            try {
                parse.invoke(null, args, Map.of());
                wrong.add(String.join(" ", args) + " -> accepted");
            } catch (java.lang.reflect.InvocationTargetException e) {
                Throwable t = e.getCause();
                String opt = args[0].equals("--lock-timeout-ms") ? "--statement-timeout-ms" : args[0];
                if (!t.getClass().getSimpleName().equals("UsageException") || !t.getMessage().contains(opt)) {
                    wrong.add(String.join(" ", args) + " -> " + t);
                }
            }
        }
        // Environment variables are checked like flags.
        try {
            parse.invoke(null, new String[0], Map.of("SYNCSQLITE_PORT", "seventy"));
            wrong.add("SYNCSQLITE_PORT=seventy -> accepted");
        } catch (java.lang.reflect.InvocationTargetException e) {
            if (!e.getCause().getMessage().contains("port")) {
                wrong.add("SYNCSQLITE_PORT=seventy -> " + e.getCause());
            }
        }
        assertEquals(List.of(), wrong);
    }

    /** Relay: an unknown table in --tables stops the start with a message naming it. */
    @Test
    void relayRefusesAnUnknownTableInItsList() {
        Exception e = assertThrows(Exception.class,
                () -> Relay.start(f.config().withTables(List.of("item", "itme"))).close());
        String all = e + " " + e.getCause();
        assertTrue(all.contains("itme"), all);
    }

    /**
     * README: "Without --pg-url it starts an embedded PostgreSQL, for trying it out." An explicitly empty
     * SYNCSQLITE_PG_URL (a compose file's ${DATABASE_URL} that is unset), even next to --pg-user and --pg-password,
     * is taken as absent: the relay runs on a throwaway embedded database and every device syncs into it.
     */
    @Test
    void relayRefusesAnEmptyPgUrlGivenWithCredentials() throws Exception {
        java.lang.reflect.Method parse = Class.forName("io.syncsqlite.relay.RelayMain")
                .getDeclaredMethod("parse", String[].class, Map.class);
        parse.setAccessible(true);
        Object options;
        try {
            options = parse.invoke(null, new String[] {"--pg-user", "sync", "--pg-password", "pw"},
                    Map.of("SYNCSQLITE_PG_URL", ""));
        } catch (java.lang.reflect.InvocationTargetException e) {
            assertTrue(e.getCause().getMessage().contains("pg-url"), e.getCause().getMessage());
            return;
        }
        java.lang.reflect.Method accessor = options.getClass().getDeclaredMethod("pgUrl");
        accessor.setAccessible(true);
        Object pgUrl = accessor.invoke(options);
        fail("an empty SYNCSQLITE_PG_URL with --pg-user was accepted; pgUrl=" + pgUrl
                + " (null: the relay starts an embedded PostgreSQL)");
    }
}
