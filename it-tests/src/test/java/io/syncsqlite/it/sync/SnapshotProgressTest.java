package io.syncsqlite.it.sync;

import io.syncsqlite.driver.jdbc.SyncConnection;
import io.syncsqlite.driver.sync.SnapshotProgress;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.it.harness.TcpProxy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A new client sees the snapshot's progress (rows received of total) through the driver's listener. */
class SnapshotProgressTest {

    @TempDir
    Path dir;

    @Test
    void progressCountsUpToTheTotalAndEndsDone() throws Exception {
        try (Cluster cluster = Cluster.start("snapprogress", dir,
                "CREATE TABLE item (id int PRIMARY KEY, name text)",
                "INSERT INTO item SELECT g, 'item ' || g FROM generate_series(1, 2500) g")) {
            Path file = cluster.file("fresh", "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)");
            TcpProxy proxy = cluster.proxy();
            proxy.online(false); // so the listener is in place before the snapshot starts
            List<SnapshotProgress> seen = new CopyOnWriteArrayList<>();
            try (Connection c = DriverManager.getConnection(cluster.url("fresh", file, proxy))) {
                c.unwrap(SyncConnection.class).node().addSnapshotProgressListener(seen::add);
                proxy.online(true);
                await().until(() -> !seen.isEmpty() && seen.get(seen.size() - 1).done());
                assertEquals(2500, seen.get(0).total());
                for (int i = 1; i < seen.size(); i++) {
                    assertTrue(seen.get(i).received() > seen.get(i - 1).received(), seen.toString());
                }
                SnapshotProgress last = seen.get(seen.size() - 1);
                assertEquals(2500, last.received());
                assertTrue(seen.size() >= 3, "2500 rows arrive in batches of at most 1000: " + seen);
                try (var rs = c.createStatement().executeQuery("SELECT count(*) FROM item")) {
                    rs.next();
                    assertEquals(2500, rs.getInt(1));
                }
            }
        }
    }
}
