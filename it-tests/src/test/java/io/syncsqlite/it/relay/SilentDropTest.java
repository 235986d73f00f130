package io.syncsqlite.it.relay;

import io.syncsqlite.it.harness.TcpProxy;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.relay.Relay;
import io.syncsqlite.relay.RelayConfig;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.Message;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A relay's PostgreSQL connections whose network flows were dropped silently (a NAT or firewall idle
 * timeout, a failover whose old server went dark: no reset, the packets vanish) cost seconds, not a hang
 * until the kernel gives up on TCP (about 15 minutes): kept connections are checked with a timed round trip
 * before reuse (snapshot connections always, the others after 5 s idle; found in review: before that check,
 * client B waited for good), and the feed's own connection has a 30 s limit per round trip.
 */
class SilentDropTest {

    /** A relay on {@code f}'s database whose PostgreSQL connections all pass through {@code proxy}. */
    private static Relay relayThrough(RelayFixture f, TcpProxy proxy) throws Exception {
        return relayThrough(f, proxy, c -> c);
    }

    private static Relay relayThrough(RelayFixture f, TcpProxy proxy, UnaryOperator<RelayConfig> tweak) throws Exception {
        Matcher m = DB_URL.matcher(f.dbUrl());
        assertTrue(m.matches(), f.dbUrl());
        proxy.target(Integer.parseInt(m.group(1)));
        RelayConfig base = f.config();
        String url = "jdbc:postgresql://127.0.0.1:" + proxy.port() + m.group(2) + "?sslmode=disable";
        return Relay.start(tweak.apply(RelayConfig.of(url, base.pgUser(), base.pgPassword())
                .withHost("127.0.0.1").withPort(0).withPoolSize(4)));
    }

    private static final Pattern DB_URL = Pattern.compile("^jdbc:postgresql://[^/?]*:(\\d+)(/[^?]*).*$");

    /** What a test does with a relay on table {@code t} whose PostgreSQL connections pass through the proxy. */
    private interface ThroughProxy {
        void run(RelayFixture f, TcpProxy proxy, Relay relay, long head) throws Exception;
    }

    /** Seeds {@code t} with {@code seed}, starts a relay through a proxy, runs {@code body}, then ends both. */
    private static void withRelayThroughProxy(String prefix, String seed, ThroughProxy body) throws Exception {
        try (RelayFixture f = RelayFixture.start(prefix, "CREATE TABLE t (id int PRIMARY KEY, v text)")) {
            f.execute(seed);
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            try (TcpProxy proxy = new TcpProxy(0)) {
                Relay relay = relayThrough(f, proxy);
                try {
                    body.run(f, proxy, relay, head);
                } finally {
                    proxy.close(); // unblocks whatever still waits on a dropped flow
                    relay.close();
                }
            }
        }
    }

    @Test
    void aClientAfterTheRelaysIdleConnectionsWereSilentlyDroppedIsServedInSeconds() throws Exception {
        withRelayThroughProxy("silentdrop", "INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 50) AS g",
                (f, proxy, relay, head) -> {
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
                });
    }

    @Test
    void theFeedReconnectsWhenItsConnectionStopsAnswering() throws Exception {
        withRelayThroughProxy("silentfeed", "INSERT INTO t VALUES (1, 'before')", (f, proxy, relay, head) -> {
            try (TestClient c = TestClient.connect(relay.uri())) {
                c.hello("silentfeed-c", head);
                proxy.blackHoleOpenConnections();
                f.execute("INSERT INTO t VALUES (2, 'after')"); // straight into PostgreSQL, not through the proxy
                await().atMost(Duration.ofSeconds(60)).until(() -> c.cursor() > head);
                assertTrue(c.entries().stream().anyMatch(e -> e.pk().get("id").asInt() == 2));
            }
        });
    }

    /**
     * PostgreSQL stops answering while an apply waits for its reply (the relay's INSERT runs a trigger that
     * sleeps 1.5 s; the flow is dropped meanwhile). The relay gives up after the statement timeout plus its
     * margin, 3 + 5 s here, and closes the client's session with 1011; before the bound it waited for the
     * kernel's TCP timeout (about 15 minutes), holding the connection and the client's queue. The server,
     * still alive here, ends the orphaned transaction once it has sat idle for the statement timeout, so its
     * locks go and the client's resend is applied.
     */
    @Test
    void anApplyWhoseServerStopsAnsweringFailsWithinTheBoundAndItsResendLands() throws Exception {
        try (RelayFixture f = RelayFixture.start("darkapply", "CREATE TABLE t (id int PRIMARY KEY, v text)")) {
            f.execute("CREATE TABLE slow (on_ boolean)", "INSERT INTO slow VALUES (true)",
                    "CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                            + " IF EXISTS (SELECT FROM slow) THEN PERFORM pg_sleep(1.5); END IF; RETURN NEW; END $$",
                    "CREATE TRIGGER slow_insert BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION slow_insert()");
            try (TcpProxy proxy = new TcpProxy(0)) {
                Relay relay = relayThrough(f, proxy, c -> c.withLockTimeout(Duration.ofSeconds(1))
                        .withStatementTimeout(Duration.ofSeconds(3)));
                try {
                    long hlc = Hlc.ofMillis(System.currentTimeMillis());
                    try (TestClient a = TestClient.connect(relay.uri())) {
                        a.hello("darkapply-a", 0);
                        a.push(tx(1, hlc, insert("t", obj("id", 1), obj("v", "one"))));
                        await().atMost(Duration.ofSeconds(10)).until(() -> f.queryLong("SELECT count(*) FROM pg_stat_activity"
                                + " WHERE datname = current_database() AND wait_event = 'PgSleep'") == 1);
                        proxy.blackHoleOpenConnections();
                        f.execute("DELETE FROM slow");
                        long start = System.nanoTime();
                        assertEquals(1011, a.awaitClose(), "the relay could not apply: the client is to resend");
                        long seconds = (System.nanoTime() - start) / 1_000_000_000L;
                        assertTrue(seconds < 12, "gave up after " + seconds + " s");
                    }
                    // The resend: its first attempts may wait for the orphaned transaction's locks (1 s each).
                    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                    while (true) {
                        try (TestClient again = TestClient.connect(relay.uri())) {
                            again.hello("darkapply-a", 0);
                            again.push(tx(1, hlc, insert("t", obj("id", 1), obj("v", "one"))));
                            Object outcome = again.await(() -> again.closeCode() != null ? (Object) again.closeCode()
                                    : again.messages().stream().filter(m -> m instanceof Message.Ack).findFirst().orElse(null),
                                    "ack or close");
                            if (outcome instanceof Message.Ack) {
                                break;
                            }
                            assertEquals(1011, outcome, "only the relay's 'try again later' may end a resend");
                        }
                        assertTrue(System.nanoTime() < deadline, "the resend never landed");
                    }
                    assertEquals("one", f.query("SELECT v FROM t WHERE id = 1").get(0).get(0));
                } finally {
                    proxy.close(); // unblocks whatever still waits on a dropped flow
                    relay.close();
                }
            }
        }
    }
}
