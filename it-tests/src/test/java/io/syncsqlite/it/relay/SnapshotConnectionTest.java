package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Snapshots reuse their PostgreSQL connections (opening one per client was most of a small snapshot's
 * cost), and a kept connection that died while idle does not fail the next client's snapshot.
 */
class SnapshotConnectionTest {

    private static final String SNAPSHOT_BACKENDS = "SELECT pid FROM pg_stat_activity"
            + " WHERE datname = current_database() AND application_name LIKE '% snapshot' ORDER BY pid";

    @Test
    void snapshotsReuseTheirConnectionsAndSurviveOneThatDiedWhileIdle() {
        try (RelayFixture f = RelayFixture.start("snapconn", "CREATE TABLE t (id int PRIMARY KEY, v text)")) {
            f.execute("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 50) AS g");
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            snapshotOf(f, "first", head);
            List<List<String>> kept = f.query(SNAPSHOT_BACKENDS);
            assertFalse(kept.isEmpty(), "the snapshot's connection is kept");
            for (int i = 0; i < 5; i++) {
                snapshotOf(f, "next-" + i, head);
            }
            assertEquals(kept, f.query(SNAPSHOT_BACKENDS), "later snapshots use the same connections");

            f.query("SELECT pg_terminate_backend(pid) FROM (" + SNAPSHOT_BACKENDS + ") AS s");
            await().atMost(Duration.ofSeconds(10)).until(() -> f.query(SNAPSHOT_BACKENDS).isEmpty());
            snapshotOf(f, "after-kill", head);
            assertEquals(1, f.query(SNAPSHOT_BACKENDS).size(), "a new connection replaced the dead one");
        }
    }

    private static void snapshotOf(RelayFixture f, String node, long head) {
        try (TestClient c = f.client("snapconn-" + node, 0)) {
            c.awaitCursor(head);
            assertEquals(50, c.entries().stream().filter(e -> e.table().equals("t")).count(), node);
        }
    }
}
