package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Integer auto-increment keys across clients (issue 3, "Keys"): rows inserted without a key on several
 * clients, offline, never collide, in SQLite or in PostgreSQL, and direct PostgreSQL inserts that use the
 * column's sequence do not collide with them either.
 */
class IntegerKeysTest {

    private static final String PG_ITEM = "CREATE TABLE item (id bigserial PRIMARY KEY, name text NOT NULL, qty int)";
    private static final String LOCAL_ITEM = "CREATE TABLE item (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, qty INTEGER)";

    @TempDir
    Path dir;

    @Test
    void offlineClientsInsertWithoutKeysAndNothingCollides() throws Exception {
        try (Cluster cluster = Cluster.start("keys", dir, PG_ITEM).clientParams("&sync.idBlock=50")) {
            Client a = cluster.client("a", LOCAL_ITEM);
            Client b = cluster.client("b", LOCAL_ITEM);
            // Taking a key online tops the stock up to more than one range.
            a.exec("INSERT INTO item (name) VALUES ('a-warm')");
            b.exec("INSERT INTO item (name) VALUES ('b-warm')");
            awaitStock(a, "item", 99);
            awaitStock(b, "item", 99);
            a.offline();
            b.offline();
            // Both take more keys offline than one range holds: the second range was fetched while online.
            Set<Long> keysA = insertRows(a.connection(), "a", 70);
            Set<Long> keysB = insertRows(b.connection(), "b", 70);
            try (Statement st = a.connection().createStatement()) {
                st.executeUpdate("INSERT INTO item (name) VALUES ('a-literal-1'), ('a-literal-2')");
            }
            cluster.pg("INSERT INTO item (name) VALUES ('psql')");
            Set<Long> overlap = new HashSet<>(keysA);
            overlap.retainAll(keysB);
            assertTrue(overlap.isEmpty(), "keys given on both clients: " + overlap);
            a.online();
            b.online();
            a.awaitSynced();
            b.awaitSynced();
            cluster.awaitConverged("SELECT id, name, qty FROM item ORDER BY id", a, b);
            List<Map<String, Object>> pg = cluster.pgRows("SELECT count(*) AS n, count(DISTINCT id) AS d FROM item");
            assertEquals(147L, pg.get(0).get("n"));
            assertEquals(147L, pg.get(0).get("d"));
            // Each row kept the key its client gave it (no re-keying behind the application's back).
            for (long k : keysA) {
                assertEquals("a", cluster.pgRows("SELECT substr(name, 1, 1) AS p FROM item WHERE id = " + k).get(0).get("p"));
            }
        }
    }

    /** Inserts rows the way Hibernate's IDENTITY does, and returns the keys the application was told. */
    private static Set<Long> insertRows(Connection c, String prefix, int n) throws SQLException {
        Set<Long> keys = new HashSet<>();
        c.setAutoCommit(false);
        try (PreparedStatement ps = c.prepareStatement("insert into item (name, qty) values (?, ?)");
             PreparedStatement lastId = c.prepareStatement("select last_insert_rowid()")) {
            for (int i = 0; i < n; i++) {
                ps.setString(1, prefix + i);
                ps.setInt(2, i);
                assertEquals(1, ps.executeUpdate());
                try (ResultSet rs = lastId.executeQuery()) {
                    rs.next();
                    assertTrue(keys.add(rs.getLong(1)));
                }
                if (i % 10 == 9) {
                    c.commit();
                }
            }
            c.commit();
        } finally {
            c.setAutoCommit(true);
        }
        try (PreparedStatement ps = c.prepareStatement("insert into item (name) values (?)",
                Statement.RETURN_GENERATED_KEYS)) {
            ps.setString(1, prefix + "-generated");
            ps.executeUpdate();
            try (ResultSet rs = ps.getGeneratedKeys()) {
                assertTrue(rs.next());
                assertTrue(keys.add(rs.getLong(1)));
            }
        }
        return keys;
    }

    @Test
    void keysSurviveAReopenAndBatchesGetOneKeyPerRow() throws Exception {
        try (Cluster cluster = Cluster.start("keysreopen", dir, PG_ITEM).clientParams("&sync.idBlock=20")) {
            Client a = cluster.client("a", LOCAL_ITEM);
            awaitStock(a, "item", 20);
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO item (name) VALUES (?)")) {
                for (int i = 0; i < 15; i++) {
                    ps.setString(1, "batch" + i);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            a.offline();
            a.reopen();
            // After reopening offline, the stock is what the file stored minus what its rows already use.
            a.exec("INSERT INTO item (name) VALUES ('after-reopen')");
            a.online();
            a.awaitSynced();
            cluster.awaitConverged("SELECT id, name FROM item ORDER BY id", a);
            assertEquals(16L, cluster.pgRows("SELECT count(DISTINCT id) AS d FROM item").get(0).get("d"));
        }
    }

    @Test
    void aKeyColumnWithoutSequenceGetsTheRelaysOwnStartingPastExistingRows() throws Exception {
        try (Cluster cluster = Cluster.start("keysnoseq", dir,
                "CREATE TABLE note (id integer PRIMARY KEY, body text)",
                "INSERT INTO note VALUES (500, 'existing')")) {
            Client a = cluster.client("a", "CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)");
            a.awaitSynced();
            a.exec("INSERT INTO note (body) VALUES ('new')");
            a.awaitSynced();
            cluster.awaitConverged("SELECT id, body FROM note ORDER BY id", a);
            long id = (Long) a.rows("SELECT id FROM note WHERE body = 'new'").get(0).get("id");
            assertTrue(id > 500, "new key " + id + " must be past the existing 500");
        }
    }

    @Test
    void aClientThatNeverReachedTheRelayIsRefusedClearlyAndLosesNothing() throws Exception {
        Path file = dir.resolve("never.db");
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file);
             Statement st = plain.createStatement()) {
            st.execute(LOCAL_ITEM);
        }
        // A port nobody listens on: the first connection attempt fails at once.
        String url = "jdbc:syncsqlite:" + file + "?sync.server=ws://127.0.0.1:9&sync.lingerMs=0";
        try (Connection c = DriverManager.getConnection(url)) {
            c.createStatement().executeUpdate("INSERT INTO item (id, name) VALUES (1, 'explicit key works')");
            await().atMost(Duration.ofSeconds(10)).until(() -> c.unwrap(io.syncsqlite.driver.jdbc.SyncConnection.class)
                    .node().status().lastError() != null);
            SQLException e = assertThrows(SQLException.class,
                    () -> c.createStatement().executeUpdate("INSERT INTO item (name) VALUES ('needs a key')"));
            assertEquals("SY004", e.getSQLState());
            assertTrue(e.getMessage().contains("item"), e.getMessage());
            try (ResultSet rs = c.createStatement().executeQuery("SELECT count(*) FROM item")) {
                rs.next();
                assertEquals(1, rs.getInt(1));
            }
        }
    }

    @Test
    void aFirstKeylessInsertInsideAWriteTransactionGetsItsKey() throws Exception {
        try (Cluster cluster = Cluster.start("keysintx", dir, PG_ITEM, "CREATE TABLE tag (name text PRIMARY KEY)")) {
            Client a = cluster.client("a", LOCAL_ITEM, "CREATE TABLE tag (name TEXT PRIMARY KEY)");
            Connection c = a.connection();
            c.setAutoCommit(false);
            // This transaction holds SQLite's write lock while the first key range is still on its way.
            c.createStatement().executeUpdate("INSERT INTO tag (name) VALUES ('first')");
            c.createStatement().executeUpdate("INSERT INTO item (name) VALUES ('keyless')");
            c.commit();
            c.setAutoCommit(true);
            a.awaitSynced();
            cluster.awaitConverged("SELECT id, name FROM item", a);
        }
    }

    @Test
    void textKeysAreNotTouched() throws Exception {
        try (Cluster cluster = Cluster.start("keystext", dir, "CREATE TABLE tag (name text PRIMARY KEY, n int)")) {
            Client a = cluster.client("a", "CREATE TABLE tag (name TEXT PRIMARY KEY, n INTEGER)");
            a.offline();
            a.exec("INSERT INTO tag (name, n) VALUES ('x', 1)");
            a.online();
            a.awaitSynced();
            cluster.awaitConverged("SELECT name, n FROM tag", a);
        }
    }

    /**
     * Keys must come while this client's own thread waits for SQLite's write lock: another program holds
     * it in a long transaction, and a change from PostgreSQL waits to be applied. The application keeps
     * taking keys (its inserts run once the lock is free). When key requests went through that thread, the
     * stock ran dry after one range and the next key failed after 5 s (SY004): two Hibernate threads
     * inserting into one file met this under load in CI.
     */
    @Test
    void keysArriveWhileThisClientsThreadWaitsForTheWriteLock() throws Exception {
        try (Cluster cluster = Cluster.start("keys_locked", dir, PG_ITEM).clientParams("&sync.idBlock=3")) {
            Client a = cluster.client("a", LOCAL_ITEM);
            a.exec("INSERT INTO item (name) VALUES ('warm')");
            awaitStock(a, "item", 3);
            a.awaitSynced();
            try (Connection other = DriverManager.getConnection("jdbc:sqlite:" + a.file());
                 Statement st = other.createStatement()) {
                st.execute("BEGIN IMMEDIATE");
                cluster.pg("INSERT INTO item (name) VALUES ('psql')");
                Thread.sleep(500); // the change arrives, and a's thread waits for the lock to apply it
                Set<Long> keys = new HashSet<>();
                long start = System.nanoTime();
                for (int i = 0; i < 12; i++) {
                    keys.add(a.node().nextKey("item"));
                }
                long ms = (System.nanoTime() - start) / 1_000_000;
                assertEquals(12, keys.size());
                assertTrue(ms < 4000, "12 keys took " + ms + " ms");
                assertEquals(1L, cluster.pgRows("SELECT count(*) AS n FROM item WHERE name = 'psql'").get(0).get("n"));
                assertEquals(0, a.rows("SELECT id FROM item WHERE name = 'psql'").size(), "applied through the lock");
                st.execute("ROLLBACK");
            }
            a.awaitSynced();
            assertEquals(1, a.rows("SELECT id FROM item WHERE name = 'psql'").size());
        }
    }

    private static void awaitStock(Client c, String table, long atLeast) {
        await().atMost(Duration.ofSeconds(20)).until(() -> c.node().keysAvailable(table) >= atLeast);
    }
}
