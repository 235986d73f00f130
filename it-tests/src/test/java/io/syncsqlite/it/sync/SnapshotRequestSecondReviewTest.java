package io.syncsqlite.it.sync;

import io.syncsqlite.driver.sync.SnapshotProgress;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * End to end (real PostgreSQL, relay, SQLite files): faults a second review of the snapshot request and the
 * local resync (62a575b..408163c) found, each test failing before its fix.
 */
public class SnapshotRequestSecondReviewTest {

    @TempDir
    Path dir;

    /** A {@code _sync_state} value of the client's file, or null when the key is absent. */
    private static Long state(Client c, String key) throws SQLException {
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + c.file());
             Statement st = plain.createStatement();
             ResultSet rs = st.executeQuery("SELECT v FROM _sync_state WHERE k = '" + key + "'")) {
            return rs.next() ? rs.getLong(1) : null;
        }
    }

    private static long count(List<Map<String, Object>> rows) {
        return ((Number) rows.get(0).get("n")).longValue();
    }

    /** A database with a bytea-keyed table of three rows, and a client that synced them and moved its cursor. */
    private static Client clientWithBlobKeyedDocs(Cluster cluster) throws Exception {
        Client c = cluster.client("c", "CREATE TABLE doc (id BLOB PRIMARY KEY, body TEXT)",
                "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT)");
        c.exec("INSERT INTO note (id, body) VALUES ('n1', 'x')");
        c.awaitSynced();
        assertEquals(3, count(c.rows("SELECT count(*) AS n FROM doc")), "the first snapshot brought the docs");
        assertTrue(state(c, "cursor") > 0);
        return c;
    }

    private static Cluster blobCluster(String name, Path dir) {
        return Cluster.start(name, dir,
                "CREATE TABLE doc (id bytea PRIMARY KEY, body text)",
                "CREATE TABLE note (id text PRIMARY KEY, body text)",
                "CREATE TABLE label (id text PRIMARY KEY, name text)",
                "INSERT INTO doc VALUES ('\\x0a0b'::bytea, 'a'), ('\\xff01'::bytea, 'b'), ('\\x0102'::bytea, 'digits only')");
    }

    private static void awaitResyncDone(Client c) throws Exception {
        Cluster.eventually(() -> state(c, "snapshot_needed") == null && state(c, "resync_pending") == null
                && c.node().status().connected(), b -> b);
        c.awaitSynced();
    }

    /**
     * The resync a table becoming synced starts (on any file with a feed position) exists to remove rows the
     * server deleted after that position ({@code LocalStore.endResync}). For a table keyed by a BLOB the removal
     * bound the key as the text {@code "\x0A0B"}, which never equals the stored blob, so the row stayed on the
     * client for good; it is now bound as the feed binds keys.
     */
    @Test
    void aLocalResyncRemovesABlobKeyedRowTheServerDeleted() throws Exception {
        try (Cluster cluster = blobCluster("blobkeygone", dir)) {
            Client c = clientWithBlobKeyedDocs(cluster);

            c.offline();
            cluster.pg("DELETE FROM doc WHERE id = '\\xff01'::bytea");
            c.script("CREATE TABLE label (id TEXT PRIMARY KEY, name TEXT)"); // a table becomes synced: resync
            c.online();
            awaitResyncDone(c);

            assertEquals(2, count(cluster.pgRows("SELECT count(*) AS n FROM doc")));
            assertEquals(List.of(), c.rows("SELECT hex(id) AS id FROM doc WHERE id = x'ff01'"),
                    "doc \\xff01, deleted on the server before the resync");
        }
    }

    /**
     * The other half: {@code endResync} compares canonical keys, the snapshot's from PostgreSQL
     * ({@code "\x0a0b"}, lower-case hex), the local ones from {@code TriggerSql.keyJson} ({@code '\x' ||
     * hex(id)}, upper-case): every row whose key had a hex letter was taken for one the snapshot did not bring,
     * and reported deleted to row listeners although the DELETE missed it (with the bind fixed alone it would
     * really have gone). {@code RowKey} now lower-cases a BLOB key's hex, and only rows deleted are reported.
     */
    @Test
    void aLocalResyncDoesNotReportBlobKeyedRowsTheSnapshotBroughtAsDeleted() throws Exception {
        try (Cluster cluster = blobCluster("blobkeyphantom", dir)) {
            Client c = clientWithBlobKeyedDocs(cluster);
            List<String> reportedDeleted = new java.util.concurrent.CopyOnWriteArrayList<>();
            c.node().addRemoteRowListener(rows -> rows.stream().filter(r -> r.deleted())
                    .forEach(r -> reportedDeleted.add(r.table() + " " + r.key())));

            c.script("CREATE TABLE label (id TEXT PRIMARY KEY, name TEXT)"); // a table becomes synced: resync
            awaitResyncDone(c);

            assertEquals(3, count(cluster.pgRows("SELECT count(*) AS n FROM doc")));
            assertEquals(3, count(c.rows("SELECT count(*) AS n FROM doc")));
            assertEquals(List.of(), reportedDeleted, "rows reported deleted by the resync, all still on the server");
        }
    }

    /**
     * A file whose first snapshot was cut off has no position but holds server rows (the batches before the
     * cut): a row the server deleted before the next connection is not in the next snapshot, and a plain
     * snapshot removed nothing, so it stayed on the client for good (older than the snapshot request, which
     * assumed a file without a position had no server rows). Such a file now resyncs.
     */
    @Test
    void aRowDeletedOnTheServerWhileAFirstSnapshotWasCutOffIsRemovedByTheNextOne() throws Exception {
        try (Cluster cluster = Cluster.start("cutsnapshot", dir,
                "CREATE TABLE item (id int PRIMARY KEY, name text)",
                "INSERT INTO item SELECT g, 'item ' || g FROM generate_series(1, 8000) g")) {
            Path file = cluster.file("fresh", "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)");
            var proxy = cluster.proxy();
            proxy.online(false); // the listener must be in place before the snapshot starts
            Client c = cluster.open("fresh", file, proxy);
            AtomicBoolean cut = new AtomicBoolean();
            c.node().addSnapshotProgressListener((SnapshotProgress p) -> {
                if (!p.done() && p.received() >= 1000 && cut.compareAndSet(false, true)) {
                    proxy.online(false);
                }
            });
            proxy.online(true);
            Cluster.eventually(cut::get, b -> b);
            // The connection's loss is handled after the batches that came before it: all of them are applied.
            Cluster.eventually(() -> c.node().status().connected(), b -> !b);
            long applied = count(c.rows("SELECT count(*) AS n FROM item"));
            assertTrue(applied > 0 && applied < 8000, "part of the snapshot: " + applied);
            assertEquals(0L, state(c, "cursor") == null ? 0L : state(c, "cursor"));
            Object some = c.rows("SELECT min(id) AS id FROM item").get(0).get("id");

            cluster.pg("DELETE FROM item WHERE id = " + some);
            proxy.online(true);
            c.awaitSynced();
            // Complete: a position, and the removal that follows the last batch done.
            Cluster.eventually(() -> state(c, "cursor") != null && state(c, "cursor") > 0
                    && state(c, "resync_pending") == null, b -> b);
            assertEquals(7999, count(cluster.pgRows("SELECT count(*) AS n FROM item")));
            assertEquals(List.of(), c.rows("SELECT id FROM item WHERE id = " + some),
                    "item " + some + ", deleted on the server while the client was cut off mid-snapshot");
        }
    }
}
