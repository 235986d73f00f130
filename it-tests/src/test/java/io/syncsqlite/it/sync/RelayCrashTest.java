package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.it.harness.RelayProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** A relay process killed with SIGKILL while clients stream writes: nothing lost, nothing skipped. */
class RelayCrashTest {

    @TempDir
    Path dir;

    @Test
    void relayKilledMidStreamLosesNothing() throws Exception {
        try (Cluster c = Cluster.start("e2e_kill", dir,
                "CREATE TABLE event (id BIGINT PRIMARY KEY, body TEXT NOT NULL, n INTEGER NOT NULL)")) {
            Client a = c.client("a", "CREATE TABLE event (id INTEGER PRIMARY KEY, body TEXT NOT NULL, n INTEGER NOT NULL)");
            Client b = c.client("b", "CREATE TABLE event (id INTEGER PRIMARY KEY, body TEXT NOT NULL, n INTEGER NOT NULL)");
            RelayProcess relay = RelayProcess.start(c.dbUrl(), dir.resolve("relay.log"));
            a.proxy().target(relay.port());
            b.proxy().target(relay.port());
            a.proxy().cutAll();
            b.proxy().cutAll();

            Connection ac = a.connection();
            int id = 0;
            try (PreparedStatement ins = ac.prepareStatement("INSERT INTO event (id, body, n) VALUES (?, ?, ?)")) {
                for (int round = 0; round < 3; round++) {
                    for (int tx = 0; tx < 300; tx++) {
                        ins.setInt(1, id);
                        ins.setString(2, "event " + id);
                        ins.setInt(3, round);
                        ins.executeUpdate();
                        id++;
                        if (tx == 150) {
                            relay.kill(); // pushes and acknowledgements are in flight here
                            relay = RelayProcess.start(c.dbUrl(), dir.resolve("relay.log"));
                            a.proxy().target(relay.port());
                            b.proxy().target(relay.port());
                        }
                    }
                }
            }
            a.awaitSynced();
            c.awaitConverged("SELECT id, body, n FROM event ORDER BY id", a, b);
            assertEquals(id, c.pgRows("SELECT id FROM event").size());
            assertEquals(List.of(Map.of("applied_tx", lastTx(a))),
                    c.pgRows("SELECT applied_tx FROM syncsqlite.client WHERE node = 'a'"));
            relay.kill();
        }
    }

    /** The id of a's newest local transaction: every one of them must have been applied. */
    private static long lastTx(Client a) throws Exception {
        return (Long) a.rows("SELECT max(seq) AS m FROM _sync_outbox WHERE hlc IS NOT NULL").get(0).get("m");
    }
}
