package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * End to end (real PostgreSQL, relay, SQLite files): the snapshot request of a table that became synced is
 * kept in the file and taken at connect. Each test is a fault a review of the first version (6f1b508) found.
 */
public class SnapshotRequestReviewTest {

    @TempDir
    Path dir;

    /** "Another program": opens {@code args[0]} through the driver and runs {@code args[1]}. */
    public static void main(String[] args) throws Exception {
        try (Connection c = DriverManager.getConnection(args[0]); Statement st = c.createStatement()) {
            st.execute(args[1]);
        }
    }

    private static long requested(Client c) throws SQLException {
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + c.file());
             Statement st = plain.createStatement();
             ResultSet rs = st.executeQuery("SELECT v FROM _sync_state WHERE k = 'snapshot_needed'")) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    /** A database whose table {@code label} has a row (l1) before any client exists. */
    private Cluster clusterWithLabel(String name) {
        return Cluster.start(name, dir, "CREATE TABLE note (id text PRIMARY KEY, body text)",
                "CREATE TABLE label (id text PRIMARY KEY, name text)",
                "INSERT INTO label VALUES ('l1', 'skipped by the first snapshot')");
    }

    /** A client whose file lacks {@code label}, synced past l1 (which it skipped). */
    private static Client clientThatSkippedLabel(Cluster cluster) throws Exception {
        Client c = cluster.client("c", "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT)");
        c.exec("INSERT INTO note (id, body) VALUES ('n1', 'x')");
        c.awaitSynced();
        return c;
    }

    /**
     * The connect reads the request before the hello; a table created after that read but before the welcome
     * arrives queued a nudge that {@code awaitWelcome} consumed, and the loop reconnected only on a nudge, so
     * the table's rows were not fetched. The loop now checks the flag on every turn. The welcome is held here
     * by locking the table the relay reads it from.
     */
    @Test
    void aTableCreatedWhileTheWelcomeIsAwaitedIsFetched() throws Exception {
        try (Cluster cluster = clusterWithLabel("reqwelcome")) {
            Client c = clientThatSkippedLabel(cluster);

            c.offline();
            try (Connection lock = cluster.pg()) {
                lock.setAutoCommit(false);
                try (Statement st = lock.createStatement()) {
                    st.execute("LOCK TABLE syncsqlite.client IN ACCESS EXCLUSIVE MODE");
                }
                c.online();
                // The client has sent its hello (after taking no request) and waits for the welcome.
                Cluster.eventually(() -> ((Number) cluster.pgRows("SELECT count(*) AS n FROM pg_stat_activity"
                        + " WHERE wait_event_type = 'Lock' AND query LIKE '%syncsqlite.client%'").get(0).get("n")).longValue(),
                        n -> n > 0);
                c.script("CREATE TABLE label (id TEXT PRIMARY KEY, name TEXT)"); // committed when it returns
                lock.commit();
            }
            Cluster.eventually(() -> c.node().status().connected(), b -> b);
            cluster.awaitConverged("SELECT id, name FROM label ORDER BY id", c); // the table's rows
        }
    }

    /**
     * When another program using the driver (a migration tool with {@code sync.enabled=false}, say) adds the
     * table, the running client's catalog lacks it: its next connect took the request and applied the snapshot
     * skipping the table's rows, and nothing asked again. The connect now reloads the catalog from the file
     * before it takes a request.
     */
    @Test
    void aTableAnotherProgramAddedGetsItsRowsAtTheRunningClientsNextConnect() throws Exception {
        try (Cluster cluster = clusterWithLabel("reqother")) {
            Client c = clientThatSkippedLabel(cluster);

            Process other = new ProcessBuilder(System.getProperty("java.home") + File.separator + "bin" + File.separator + "java",
                    "-cp", System.getProperty("java.class.path"), SnapshotRequestReviewTest.class.getName(),
                    "jdbc:syncsqlite:" + c.file() + "?sync.enabled=false&sync.lingerMs=0",
                    "CREATE TABLE label (id TEXT PRIMARY KEY, name TEXT)").inheritIO().start();
            assertTrue(other.waitFor(60, TimeUnit.SECONDS) && other.exitValue() == 0, "the other program ran");
            assertEquals(1, requested(c), "the other program recorded the request in the file");

            c.proxy().cutAll(); // any reconnect
            Cluster.eventually(() -> requested(c), n -> n == 0);
            c.awaitSynced();

            c.reopen(); // a restart: the catalog now has the table
            c.awaitSynced();
            cluster.awaitConverged("SELECT id, name FROM label ORDER BY id", c); // the rows the other program's table has
        }
    }

    /**
     * A synced table dropped and created again in one transaction is recorded anew, so the file gets the
     * request, but the node told the client to reconnect only when the set of synced names grew: the
     * recreated table stayed empty. The node now reconnects whenever the file holds a request.
     */
    @Test
    void aTableRecreatedInOneTransactionGetsTheServersRowsBack() throws Exception {
        try (Cluster cluster = Cluster.start("reqrecreate", dir, "CREATE TABLE note (id text PRIMARY KEY, body text)",
                "CREATE TABLE label (id text PRIMARY KEY, name text)",
                "INSERT INTO label VALUES ('l1', 'a'), ('l2', 'b')")) {
            Client c = cluster.client("c", "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT)",
                    "CREATE TABLE label (id TEXT PRIMARY KEY, name TEXT)");
            cluster.awaitConverged("SELECT id, name FROM label ORDER BY id", c);
            c.connection().setAutoCommit(false);
            c.script("DROP TABLE label", "CREATE TABLE label (id TEXT PRIMARY KEY, name TEXT)");
            c.connection().commit();
            c.connection().setAutoCommit(true);
            c.exec("INSERT INTO note (id, body) VALUES ('n1', 'x')");
            c.awaitSynced();
            cluster.awaitConverged("SELECT id, name FROM label ORDER BY id", c);
        }
    }
}
