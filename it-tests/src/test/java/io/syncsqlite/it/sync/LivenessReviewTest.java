package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.it.harness.TcpProxy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;

import static io.syncsqlite.it.harness.Rows.row;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of the sync client's liveness probe (a ping half a second after messages stop, and a connection ended
 * when a ping goes unanswered for 5 s, plus the time the slowest uplink takes to carry what was sent ahead of
 * it): a healthy connection that is merely slow must not be taken for dead. A false positive drops and reconnects a
 * working connection, and on a slow link it can do so for ever (each new connection starts its snapshot or upload
 * again). The upload case failed on the first version of the probe (a flat 5 s: 4 connections in 27 s).
 */
class LivenessReviewTest {

    private static final String PG_ITEM = "CREATE TABLE item (id BIGINT PRIMARY KEY, name TEXT, qty INTEGER)";
    private static final String LOCAL_ITEM = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)";
    private static final String PAD = "x".repeat(200);

    @TempDir
    Path dir;

    private static long count(Client c) throws Exception {
        return ((Number) c.rows("SELECT count(*) AS n FROM item").get(0).get("n")).longValue();
    }

    /**
     * A new client behind a slow link (500 ms per chunk of up to 64 KiB, at most 128 KiB/s) receives a first
     * snapshot of a few MB (8,000 rows of about 200 bytes). The relay's pong waits behind the snapshot's bytes, but those bytes
     * arrive all along: the client must finish its first sync on few connections, not restart its snapshot on
     * every new one. Matters to a user on a mobile or satellite link installing the app on a new device.
     */
    @Test
    void aFirstSnapshotOverASlowLinkCompletesWithoutReconnects() throws Exception {
        try (Cluster c = Cluster.start("live_snap", dir, PG_ITEM,
                "INSERT INTO item SELECT g, 'item ' || g || ' " + PAD + "', 0 FROM generate_series(1, 8000) g")) {
            Path file = c.file("fresh", LOCAL_ITEM);
            TcpProxy proxy = c.proxy();
            proxy.latency(500);
            long start = System.nanoTime();
            Client a = c.open("fresh", file, proxy);
            await().atMost(Duration.ofSeconds(50)).pollInterval(Duration.ofMillis(200))
                    .until(() -> count(a) == 8000 || proxy.connections() > 3);
            long ms = (System.nanoTime() - start) / 1_000_000;
            System.out.println("LIVENESS snapshot: 8000 rows in " + ms + " ms over " + proxy.connections()
                    + " connection(s); status " + a.node().status());
            assertTrue(proxy.connections() <= 2, "a slow but healthy link was dropped and reconnected: "
                    + proxy.connections() + " connections in " + ms + " ms; status " + a.node().status());
            assertEquals(8000, count(a));
        }
    }

    /**
     * A client that wrote one transaction of about 2 MB offline uploads it over a slow link (500 ms per chunk of up
     * to 64 KiB: a part of 1 MiB takes 8 s or more).
     * The relay answers only after the last part, and the client's ping is queued behind the upload's bytes
     * (in the JDK's, the kernel's and the proxy's buffers), so the pong comes only once the upload is through.
     * It must not be taken for an unanswered ping: the transaction must reach PostgreSQL, on few connections.
     */
    @Test
    void aBigUploadOverASlowLinkGetsThroughWithoutReconnects() throws Exception {
        try (Cluster c = Cluster.start("live_upload", dir, PG_ITEM)) {
            Client a = c.client("a", LOCAL_ITEM);
            a.exec("INSERT INTO item VALUES (1, 'counter', 10)");
            a.awaitSynced();
            a.offline();
            int rows = 8000;
            Connection conn = a.connection();
            conn.setAutoCommit(false);
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO item (id, name, qty) VALUES (?, ?, 0)")) {
                for (int i = 0; i < rows; i++) {
                    ps.setInt(1, 1000 + i);
                    ps.setString(2, "row " + i + " " + PAD);
                    ps.executeUpdate();
                }
                try (Statement st = conn.createStatement()) {
                    st.executeUpdate("UPDATE item SET qty = qty + 1 WHERE id = 1");
                }
                conn.commit();
            } finally {
                conn.setAutoCommit(true);
            }
            int before = a.proxy().connections();
            a.proxy().latency(500);
            long start = System.nanoTime();
            a.online();
            await().atMost(Duration.ofSeconds(50)).pollInterval(Duration.ofMillis(200))
                    .until(() -> LargeTransactionTest.pgLong(c, "SELECT count(*) FROM item") == rows + 1
                            || a.proxy().connections() - before > 3);
            long ms = (System.nanoTime() - start) / 1_000_000;
            int used = a.proxy().connections() - before;
            System.out.println("LIVENESS upload: " + rows + " rows in " + ms + " ms over " + used
                    + " connection(s); status " + a.node().status());
            assertTrue(used <= 2, "a slow but healthy upload was dropped and resent: " + used
                    + " connections in " + ms + " ms; status " + a.node().status());
            assertEquals(List.of(row("qty", 11L)), c.pgRows("SELECT qty FROM item WHERE id = 1"));
        }
    }

    /**
     * PostgreSQL is slow to apply a client's transaction (another session holds a lock on the row for 7 s,
     * under the relay's 10 s lock timeout). The relay's WebSocket layer still answers pings while the apply
     * waits, so the client must keep its one connection, and the transaction must apply once the lock is gone.
     */
    @Test
    void aRelayWaitingForAPostgresLockKeepsTheConnection() throws Exception {
        try (Cluster c = Cluster.start("live_lock", dir, PG_ITEM)) {
            Client a = c.client("a", LOCAL_ITEM);
            a.exec("INSERT INTO item VALUES (1, 'counter', 10)");
            a.awaitSynced();
            int before = a.proxy().connections();
            try (Connection pg = c.pg()) {
                pg.setAutoCommit(false);
                try (Statement st = pg.createStatement()) {
                    st.executeUpdate("UPDATE item SET name = 'locked' WHERE id = 1");
                }
                a.exec("UPDATE item SET qty = qty + 5 WHERE id = 1");
                Thread.sleep(7000);
                assertEquals(before, a.proxy().connections(),
                        "the client reconnected while the relay waited for PostgreSQL; status " + a.node().status());
                assertTrue(a.node().status().connected(), "status: " + a.node().status());
                pg.commit();
            }
            a.awaitSynced();
            assertEquals(List.of(row("name", "locked", "qty", 15L)),
                    c.pgRows("SELECT name, qty FROM item WHERE id = 1"));
            assertEquals(before, a.proxy().connections(), "one connection throughout");
        }
    }

    /**
     * An idle client over a link with 400 ms of latency each way keeps its one connection for 11 s: the
     * probe must not ping in a loop (pongs are not messages) nor take a 0.8 s round trip for a dead relay.
     */
    @Test
    void anIdleClientOverALatentLinkKeepsOneConnection() throws Exception {
        try (Cluster c = Cluster.start("live_idle", dir, PG_ITEM)) {
            Client a = c.client("a", LOCAL_ITEM);
            a.exec("INSERT INTO item VALUES (1, 'counter', 10)");
            a.awaitSynced();
            a.proxy().latency(400);
            int before = a.proxy().connections();
            Thread.sleep(11_000); // past the first heartbeat (10 s after connecting)
            assertEquals(before, a.proxy().connections(), "status " + a.node().status());
            assertEquals(1, before, "one connection from the start");
            assertTrue(a.node().status().connected(), "status: " + a.node().status());
            a.exec("UPDATE item SET qty = 11 WHERE id = 1");
            a.awaitSynced();
            assertEquals(List.of(row("qty", 11L)), c.pgRows("SELECT qty FROM item WHERE id = 1"));
            assertEquals(before, a.proxy().connections(), "still one connection after a write");
        }
    }
}
