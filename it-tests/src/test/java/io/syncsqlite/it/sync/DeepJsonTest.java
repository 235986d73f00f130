package io.syncsqlite.it.sync;

import io.syncsqlite.driver.jdbc.SyncConnection;
import io.syncsqlite.driver.sync.Rejection;
import io.syncsqlite.driver.sync.SyncNode;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.Tokens;
import io.syncsqlite.relay.Relay;
import io.syncsqlite.relay.RelayConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
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
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * JSON documents nested thousands of levels deep (PostgreSQL's jsonb takes them up to its stack depth)
 * through every path of a relay that reads rows as trees: a scoped feed, which reads each row to decide who
 * may see it; an update of another column of such a row, which the relay merges with the stored row; a
 * refused write, whose rejection carries the stored row back to the device.
 */
class DeepJsonTest {

    private static final String SECRET = "0123456789abcdef0123456789abcdef-deep-secret";
    private static final int DEPTH = 5_000;
    private static final String DOC = "{\"c\":[".repeat(DEPTH / 2) + "1" + "]}".repeat(DEPTH / 2);

    @TempDir
    Path dir;

    private RelayFixture f;
    private Relay relay;
    private final List<Connection> opened = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        f = RelayFixture.start("deep_json",
                "CREATE TABLE settings (id BIGINT PRIMARY KEY, owner TEXT NOT NULL, n INT CHECK (n >= 0), doc JSONB)");
        Path rules = dir.resolve("scopes.json");
        Files.writeString(rules, "{ \"settings\": { \"rows\": \"owner = :sub\" } }");
        relay = Relay.start(f.config().withAuth(new RelayConfig.Auth(SECRET, null, null)).withScopes(rules));
    }

    @AfterEach
    void stop() throws SQLException {
        for (Connection c : opened) {
            c.close();
        }
        relay.close();
        f.close();
    }

    private Connection open(String name, String user) throws Exception {
        Path file = dir.resolve(name + ".db");
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = plain.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS settings (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, n INTEGER, doc TEXT)");
        }
        Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.server=" + relay.uri()
                + "&sync.lingerMs=0&sync.reconnectMaxMs=300&sync.token=" + Tokens.hs256(SECRET, user));
        opened.add(c);
        return c;
    }

    private static String one(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private String pg(String sql) throws SQLException {
        try (Connection c = f.connection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, DOC);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    @Test
    void aDeepDocumentPassesTheScopedFeedAnUpdateOfItsRowAndARejection() throws Exception {
        Connection alice = open("alice", "alice");
        SyncNode node = alice.unwrap(SyncConnection.class).node();
        List<Rejection> rejected = new CopyOnWriteArrayList<>();
        node.addRejectionListener(rejected::add);
        assertTrue(node.awaitSynced(Duration.ofSeconds(20)));
        try (Connection c = f.connection(); PreparedStatement ps = c.prepareStatement(
                "INSERT INTO settings VALUES (1, 'alice', 1, ?::jsonb), (2, 'bob', 1, ?::jsonb), (3, 'alice', 1, '{}')")) {
            ps.setString(1, DOC);
            ps.setString(2, DOC);
            ps.executeUpdate();
        }
        // The scoped feed reads every row to decide who sees it: alice gets hers, the row after it, not bob's.
        await().atMost(Duration.ofSeconds(30)).until(() -> one(alice, "SELECT count(*) FROM settings"), "2"::equals);
        assertEquals("1,3", one(alice, "SELECT group_concat(id) FROM (SELECT id FROM settings ORDER BY id)"));
        assertEquals(DOC, one(alice, "SELECT doc FROM settings WHERE id = 1").replace(" ", ""));

        // Another column of the row: the relay merges it with the stored row, the document unchanged.
        try (Statement st = alice.createStatement()) {
            st.executeUpdate("UPDATE settings SET n = 7 WHERE id = 1");
        }
        assertTrue(node.awaitSynced(Duration.ofSeconds(20)));
        assertEquals(List.of(), rejected);
        assertEquals("7 true", pg("SELECT n || ' ' || (doc = ?::jsonb) FROM settings WHERE id = 1"));

        // A write PostgreSQL refuses: the rejection carries the stored row, document included, back.
        try (Statement st = alice.createStatement()) {
            st.executeUpdate("UPDATE settings SET n = -1 WHERE id = 1");
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> !rejected.isEmpty());
        await().atMost(Duration.ofSeconds(20)).until(() -> one(alice, "SELECT n FROM settings WHERE id = 1"), "7"::equals);
        assertEquals(DOC, one(alice, "SELECT doc FROM settings WHERE id = 1").replace(" ", ""));
        assertEquals("7 true", pg("SELECT n || ' ' || (doc = ?::jsonb) FROM settings WHERE id = 1"));

        // A device's own deep document, written as text like any JSON a device holds, arrives as a document.
        try (PreparedStatement ps = alice.prepareStatement("INSERT INTO settings (id, owner, n, doc) VALUES (4, 'alice', 0, ?)")) {
            ps.setString(1, DOC);
            ps.executeUpdate();
        }
        assertTrue(node.awaitSynced(Duration.ofSeconds(20)));
        assertEquals(1, rejected.size(), rejected.toString());
        assertEquals("object", pg("SELECT jsonb_typeof(doc) FROM settings WHERE id = 4 AND doc = ?::jsonb"));

        // A new device of alice's takes all of it in its first snapshot.
        Connection second = open("alice2", "alice");
        // awaitSynced covers the device's own writes, not its first snapshot: wait for the rows.
        await().atMost(Duration.ofSeconds(30)).until(
                () -> one(second, "SELECT group_concat(id) FROM (SELECT id FROM settings ORDER BY id)"), "1,3,4"::equals);
        assertTrue(one(second, "SELECT doc FROM settings WHERE id = 4").replace(" ", "").equals(DOC));
    }
}
