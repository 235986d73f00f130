package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How soon a client reconnects once a connection that held is lost. */
class ReconnectTest {

    @TempDir
    Path dir;

    /**
     * The reconnect backoff grows while attempts fail, up to {@code sync.reconnectMaxMs}. It used to be reset
     * only when the client stopped, so after an outage every later loss of a healthy connection waited the
     * grown backoff (here 6-13 s; up to the maximum after a few outages a day) before the first attempt.
     */
    @Test
    void aConnectionThatHeldIsReconnectedPromptlyAfterAnEarlierOutageGrewTheBackoff() throws Exception {
        try (Cluster cluster = Cluster.start("reconnect", dir, "CREATE TABLE note (id text PRIMARY KEY, body text)")
                .clientParams("&sync.reconnectMaxMs=60000")) {
            Client c = cluster.client("c", "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT)");
            c.exec("INSERT INTO note (id, body) VALUES ('n1', 'before')");
            c.awaitSynced();

            // An outage: every attempt fails and the backoff doubles, past 6 s after about 8 s of attempts.
            c.offline();
            Thread.sleep(8000);
            c.online();
            await().atMost(Duration.ofSeconds(40)).until(() -> c.node().status().connected());
            Thread.sleep(6000); // the connection holds (5 s count as holding)

            c.proxy().cutAll();
            long t0 = System.nanoTime();
            cluster.pg("INSERT INTO note VALUES ('n2', 'after the cut')");
            cluster.awaitConverged("SELECT id, body FROM note ORDER BY id", c);
            double secs = (System.nanoTime() - t0) / 1e9;
            // About 0.5 s normally; a backoff grown by the earlier outage takes 6-13 s.
            assertTrue(secs < 5, "back and in sync " + secs + " s after the cut");
        }
    }
}
