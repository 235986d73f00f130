package io.syncsqlite.it.sync;

import io.syncsqlite.driver.sync.RemoteChange;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The JPA pattern "read, then write, in one transaction" while remote changes stream in. With plain
 * sqlite-jdbc and a single connection nothing else writes the file, so it never fails; with sync, the sync
 * client is a second writer, and committing between the application's first read and its first write would
 * make that write fail with SQLITE_BUSY (a WAL read snapshot cannot be upgraded). The sync client holds its
 * commits back while an application transaction is open (briefly, see docs/DESIGN.md), so it does not.
 */
class ReadThenWriteTest {

    @TempDir
    Path dir;

    @Test
    void aRemoteChangeArrivingMidTransactionDoesNotFailTheApplicationsWrite() throws Exception {
        try (Cluster cluster = Cluster.start("readwrite", dir,
                "CREATE TABLE acct (id text PRIMARY KEY, balance int NOT NULL)",
                "INSERT INTO acct VALUES ('a', 10), ('b', 20)")) {
            Client app = cluster.client("app", "CREATE TABLE acct (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)");
            cluster.awaitConverged("SELECT id, balance FROM acct ORDER BY id", app);
            for (int round = 0; round < 5; round++) {
                Connection c = app.connection();
                c.setAutoCommit(false);
                int balance;
                try (PreparedStatement read = c.prepareStatement("SELECT balance FROM acct WHERE id = 'a'");
                     ResultSet rs = read.executeQuery()) {
                    rs.next();
                    balance = rs.getInt(1);
                }
                AtomicLong appliedAt = new AtomicLong();
                CountDownLatch applied = new CountDownLatch(1);
                // Only row b's change counts: the previous round already waited for its own b change, so a
                // late notification of anything else (the echo of the previous write) does not confuse this.
                java.util.function.Consumer<List<RemoteChange>> listener = rows -> {
                    if (rows.stream().anyMatch(r -> r.key().get("id").asText().equals("b"))) {
                        appliedAt.compareAndSet(0, System.nanoTime());
                        applied.countDown();
                    }
                };
                app.node().addRemoteRowListener(listener);
                // Someone else changes another row meanwhile; it reaches this client while its transaction is
                // open (it would be applied well within this wait if nothing held it back).
                cluster.pg("UPDATE acct SET balance = balance + 1 WHERE id = 'b'");
                Thread.sleep(300);
                try (PreparedStatement write = c.prepareStatement("UPDATE acct SET balance = ? WHERE id = 'a'")) {
                    write.setInt(1, balance + 5);
                    assertEquals(1, write.executeUpdate());
                }
                long committedAt = System.nanoTime();
                c.commit();
                c.setAutoCommit(true);
                assertTrue(applied.await(10, TimeUnit.SECONDS), "round " + round + ": the remote change never came");
                app.node().removeRemoteRowListener(listener);
                assertTrue(appliedAt.get() >= committedAt,
                        "round " + round + ": the remote change was applied inside the open transaction");
            }
            app.awaitSynced();
            cluster.awaitConverged("SELECT id, balance FROM acct ORDER BY id", app);
            assertEquals(35L, ((Number) cluster.pgRows("SELECT balance FROM acct WHERE id = 'a'").get(0).get("balance")).longValue());
            assertEquals(25L, ((Number) cluster.pgRows("SELECT balance FROM acct WHERE id = 'b'").get(0).get("balance")).longValue());
        }
    }

    /**
     * The same with the transaction's first read made through DatabaseMetaData, as Liquibase lists its tables before
     * creating them: that read held nothing back, so the remote change was applied at once and the write failed with
     * SQLITE_BUSY_SNAPSHOT (2 of 2 before the fix).
     */
    @Test
    void aMetaDataReadFirstHoldsTheRemoteChangeBackToo() throws Exception {
        try (Cluster cluster = Cluster.start("metaread", dir,
                "CREATE TABLE acct (id text PRIMARY KEY, balance int NOT NULL)",
                "INSERT INTO acct VALUES ('a', 10), ('b', 20)")) {
            Client app = cluster.client("app", "CREATE TABLE acct (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)");
            cluster.awaitConverged("SELECT id, balance FROM acct ORDER BY id", app);
            for (int round = 0; round < 2; round++) {
                Connection c = app.connection();
                c.setAutoCommit(false);
                try (ResultSet rs = c.getMetaData().getTables(null, null, "%", new String[] {"TABLE"})) {
                    assertTrue(rs.next());
                }
                cluster.pg("UPDATE acct SET balance = balance + 1 WHERE id = 'b'");
                Thread.sleep(300); // the remote change reaches the client meanwhile
                try (PreparedStatement write = c.prepareStatement("UPDATE acct SET balance = balance + 5 WHERE id = 'a'")) {
                    assertEquals(1, write.executeUpdate());
                }
                c.commit();
                c.setAutoCommit(true);
            }
            app.awaitSynced();
            cluster.awaitConverged("SELECT id, balance FROM acct ORDER BY id", app);
            assertEquals(20L, ((Number) cluster.pgRows("SELECT balance FROM acct WHERE id = 'a'").get(0).get("balance")).longValue());
            assertEquals(22L, ((Number) cluster.pgRows("SELECT balance FROM acct WHERE id = 'b'").get(0).get("balance")).longValue());
        }
    }
}
