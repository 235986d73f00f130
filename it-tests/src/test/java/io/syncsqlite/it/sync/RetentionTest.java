package io.syncsqlite.it.sync;

import io.syncsqlite.driver.jdbc.SyncConnection;
import io.syncsqlite.it.harness.Rows;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.relay.Relay;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Retention (issue 5): the relay prunes history older than its retention; a client that was away longer
 * resyncs from a snapshot instead of missing what was pruned: rows deleted meanwhile disappear locally,
 * changed rows arrive, and its own unsent writes are kept and uploaded.
 */
class RetentionTest {

    private static final String ROWS = "SELECT id, body FROM note ORDER BY id";

    @TempDir
    Path dir;

    @Test
    void aClientAwayLongerThanTheRetentionResyncsAndKeepsItsOwnWrites() throws Exception {
        try (RelayFixture f = RelayFixture.start("retention", "CREATE TABLE note (id text PRIMARY KEY, body text)");
             Relay relay = Relay.start(f.config().withRetention(Duration.ofMillis(1)))) {
            Path file = dir.resolve("away.db");
            try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = plain.createStatement()) {
                st.execute("CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT)");
            }
            String online = "jdbc:syncsqlite:" + file + "?sync.server=" + relay.uri() + "&sync.lingerMs=0&sync.reconnectMaxMs=300";
            try (Connection c = DriverManager.getConnection(online)) {
                c.createStatement().executeUpdate("INSERT INTO note VALUES ('a1', 'one')");
                c.createStatement().executeUpdate("INSERT INTO note VALUES ('a2', 'two')");
                assertTrue(c.unwrap(SyncConnection.class).node().awaitSynced(Duration.ofSeconds(20)));
            }
            // While the client is away: others change the data, and the client writes offline.
            f.execute("DELETE FROM note WHERE id = 'a1'", "UPDATE note SET body = 'two, edited' WHERE id = 'a2'",
                    "INSERT INTO note VALUES ('a3', 'three')");
            try (Connection offline = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.enabled=false&sync.lingerMs=0")) {
                offline.createStatement().executeUpdate("INSERT INTO note VALUES ('a4', 'written offline')");
            }
            Thread.sleep(20); // the commits must be older than the 1 ms retention (time, not a condition)
            // The relay's own retention timer (every second) may have pruned some or all of them already: what
            // counts is that only the head is left, not who pruned it.
            relay.pruneHistory();
            assertEquals(1, f.queryLong("SELECT count(*) FROM syncsqlite.commit_log"),
                    "the commits made while the client was away are pruned, all but the feed's head");

            try (Connection c = DriverManager.getConnection(online)) {
                assertTrue(c.unwrap(SyncConnection.class).node().awaitSynced(Duration.ofSeconds(20)));
                await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                    List<Map<String, Object>> pg;
                    try (Connection pgc = f.connection()) {
                        pg = Rows.query(pgc, ROWS);
                    }
                    assertEquals(pg, Rows.query(c, ROWS));
                });
                List<Map<String, Object>> local = Rows.query(c, ROWS);
                assertEquals(List.of("a2", "a3", "a4"), local.stream().map(r -> (String) r.get("id")).toList(),
                        "a1 deleted meanwhile is gone, a3 arrived, a4 (offline) kept and uploaded");
                assertEquals("two, edited", local.get(0).get("body"));
            }
        }
    }

    /**
     * A long history is pruned in transactions of at most 1,000 commits (one delete of all of it could outlast
     * the statement timeout on every run and never prune), and still in one run: 2,500 old commits go, the
     * head stays with its rows.
     */
    @Test
    void aLongHistoryIsPrunedInChunksInOneRun() throws Exception {
        try (RelayFixture f = RelayFixture.start("retentionchunks", "CREATE TABLE note (id text PRIMARY KEY, body text)");
             Relay relay = Relay.start(f.config().withRetention(Duration.ofHours(1)))) { // its timer: every 6 min
            try (Connection c = f.connection(); Statement st = c.createStatement()) {
                for (int i = 0; i < 2500; i++) {
                    st.execute("INSERT INTO note VALUES ('n" + i + "', 'old')");
                }
            }
            f.execute("UPDATE syncsqlite.commit_log SET committed_at = committed_at - interval '2 hours'");
            long commits = f.queryLong("SELECT count(*) FROM syncsqlite.commit_log");
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            assertTrue(commits > 2500, "the inserts and the install's commits: " + commits);
            assertEquals(commits - 1, relay.pruneHistory(), "everything but the head, in one run");
            assertEquals(List.of(List.of(String.valueOf(head))), f.query("SELECT seq FROM syncsqlite.commit_log"));
            assertEquals(1, f.queryLong("SELECT count(*) FROM syncsqlite.change"), "the head's row image stays");
        }
    }
}
