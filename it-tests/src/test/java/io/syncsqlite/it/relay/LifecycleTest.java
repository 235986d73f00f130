package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.Message;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static io.syncsqlite.it.support.Json.update;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Graceful shutdown: in-flight work finishes and is acknowledged, sockets close with 1001, threads end. */
class LifecycleTest {

    private static Set<Thread> relayThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("syncsqlite-") || t.getName().startsWith("WebSocket")
                        || t.getName().startsWith("connectionLostChecker"))
                .collect(Collectors.toSet());
    }

    @Test
    void closeLetsTheRunningApplyFinishAndAckThenClosesWith1001AndLeavesNoThreads() throws Exception {
        Set<Thread> before = relayThreads();
        RelayFixture f = RelayFixture.start("lifecycle", "CREATE TABLE t (id int PRIMARY KEY, v int)");
        Thread closer;
        TestClient c = f.client("life", 0);
        long future = Hlc.ofMillis(System.currentTimeMillis() + 300_000);
        c.push(tx(1, future, insert("t", obj("id", 1), obj("v", 1))));
        c.awaitAck(1);
        try (Connection blocker = f.connection()) {
            blocker.setAutoCommit(false);
            blocker.createStatement().execute("UPDATE t SET v = 100 WHERE id = 1");
            c.push(tx(2, future + Hlc.ofMillis(1000), update("t", obj("id", 1), obj("v", 2))));
            // The relay's apply now waits for the row lock held above.
            await().atMost(Duration.ofSeconds(20)).until(() -> f.queryLong(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'syncsqlite-relay'"
                            + " AND wait_event_type = 'Lock'") == 1);
            closer = new Thread(f.relay()::close, "test-closer");
            closer.start();
            // Once the relay stops accepting, a new connection is turned away with 1001.
            await().atMost(Duration.ofSeconds(20)).until(() -> {
                TestClient probe = TestClient.connect(f.uri());
                try {
                    return probe.awaitClose() == 1001;
                } finally {
                    probe.close();
                }
            });
            blocker.commit();
        }
        assertEquals(1001, c.awaitClose());
        Message.Ack ack = c.awaitAck(2);
        List<Message> messages = c.messages();
        assertTrue(messages.contains(ack));
        closer.join(30_000);
        assertEquals(2, f.queryLong("SELECT v FROM t WHERE id = 1"));
        f.close();

        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            Set<Thread> left = relayThreads();
            left.removeAll(before);
            left.removeIf(t -> !t.isAlive());
            assertEquals(Set.of(), left);
        });
    }
}
