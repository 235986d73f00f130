package io.syncsqlite.it.relay;

import io.syncsqlite.it.harness.TcpProxy;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.relay.Relay;
import io.syncsqlite.relay.RelayConfig;
import org.junit.jupiter.api.Test;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A relay's idle PostgreSQL connections whose network flows were dropped silently (a NAT or firewall idle
 * timeout: no reset, the packets vanish) cost the next client seconds, not a hang until the kernel gives up
 * on TCP: kept connections are checked with a timed round trip before reuse (snapshot connections always,
 * the others after 5 s idle). Found in review: before that check, client B waited for good.
 */
class SilentDropTest {

    @Test
    void aClientAfterTheRelaysIdleConnectionsWereSilentlyDroppedIsServedInSeconds() throws Exception {
        try (RelayFixture f = RelayFixture.start("silentdrop", "CREATE TABLE t (id int PRIMARY KEY, v text)")) {
            f.execute("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 50) AS g");
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            Matcher m = Pattern.compile("^jdbc:postgresql://[^/?]*:(\\d+)(/[^?]*).*$").matcher(f.dbUrl());
            assertTrue(m.matches(), f.dbUrl());
            try (TcpProxy proxy = new TcpProxy(Integer.parseInt(m.group(1)))) {
                RelayConfig base = f.config();
                String url = "jdbc:postgresql://127.0.0.1:" + proxy.port() + m.group(2) + "?sslmode=disable";
                Relay relay = Relay.start(RelayConfig.of(url, base.pgUser(), base.pgPassword())
                        .withHost("127.0.0.1").withPort(0).withPoolSize(4));
                try {
                    try (TestClient a = TestClient.connect(relay.uri())) {
                        a.hello("silentdrop-a", 0);
                        a.awaitCursor(head);
                    }
                    Thread.sleep(5_500); // idle long enough for the apply pool to check its connections too
                    proxy.blackHoleOpenConnections();
                    long start = System.nanoTime();
                    try (TestClient b = TestClient.connect(relay.uri())) {
                        b.hello("silentdrop-b", 0);
                        b.awaitCursor(head);
                        assertEquals(50, b.entries().stream().filter(e -> e.table().equals("t")).count());
                    }
                    long seconds = (System.nanoTime() - start) / 1_000_000_000L;
                    assertTrue(seconds < 15, "served after " + seconds + " s");
                } finally {
                    proxy.close(); // unblocks whatever still waits on a dropped flow
                    relay.close();
                }
            }
        }
    }
}
