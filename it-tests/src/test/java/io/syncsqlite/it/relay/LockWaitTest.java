package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.Hlc;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.time.Duration;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static io.syncsqlite.it.support.Json.update;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A row lock held for long by someone else (a {@code psql} session left in a transaction) stalls the
 * client whose change needs that row, and only that client: each time the client gives up and reconnects
 * (no acknowledgement within 30 s), its resend must not leave one more relay connection waiting behind
 * the last, until the pool is gone and no client can write at all.
 */
class LockWaitTest {

    private static final String WAITING = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            + " AND application_name = 'syncsqlite-relay' AND wait_event_type = 'Lock'";

    @Test
    void aClientStuckBehindALongRowLockDoesNotTakeTheOthersConnections() throws Exception {
        try (RelayFixture f = RelayFixture.start("lockwait", "CREATE TABLE t (id int PRIMARY KEY, v int)")) {
            f.reconfigure(c -> c.withLockTimeout(Duration.ofSeconds(2))); // the default is 10 s
            long future = Hlc.ofMillis(System.currentTimeMillis() + 300_000);
            TestClient first = f.client("stuck", 0);
            first.push(tx(1, future, insert("t", obj("id", 1), obj("v", 1))));
            first.awaitAck(1);
            first.close();
            try (Connection blocker = f.connection()) {
                blocker.setAutoCommit(false);
                blocker.createStatement().execute("UPDATE t SET v = 100 WHERE id = 1");
                // The stuck client's resends, as after each acknowledgement timeout: more than the pool holds.
                for (int i = 0; i < 6; i++) {
                    TestClient again = f.client("stuck", 0);
                    again.push(tx(2, future + Hlc.ofMillis(1000), update("t", obj("id", 1), obj("v", 2))));
                    Thread.sleep(300);
                    again.close();
                }
                // Someone else writing another row is served while the lock is still held.
                TestClient other = f.client("other", 0);
                other.push(tx(1, future, insert("t", obj("id", 2), obj("v", 2))));
                other.awaitAck(1);
                other.close();
                blocker.commit();
            }
            TestClient resend = f.client("stuck", 0);
            resend.push(tx(2, future + Hlc.ofMillis(1000), update("t", obj("id", 1), obj("v", 2))));
            resend.awaitAck(2);
            assertEquals(2, f.queryLong("SELECT v FROM t WHERE id = 1"));
            await().atMost(Duration.ofSeconds(30)).until(() -> f.queryLong(WAITING) == 0);
        }
    }
}
