package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.relay.Relay;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code /health} and {@code /metrics} on the relay's HTTP port, against a real relay and PostgreSQL. */
class OperationsEndpointsTest {

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    private static HttpResponse<String> get(int port, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static long metric(String body, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + " (\\S+)$").matcher(body);
        assertTrue(m.find(), name + " missing in:\n" + body);
        return (long) Double.parseDouble(m.group(1));
    }

    /**
     * The change feed's thread stopping for good (an Error: out of memory, a stack overflow) leaves a relay
     * that accepts clients and applies their writes but sends nobody anything: {@code /health} must say so,
     * so that an orchestrator replaces it. The Error is raised by a listener of the feed, on the feed thread
     * (Awaitility would report it as the test's own failure, hence dontCatchUncaughtExceptions).
     */
    @Test
    void healthReportsAFeedThatStopped() throws Exception {
        try (RelayFixture f = RelayFixture.start("ops_feed", "CREATE TABLE item (id int PRIMARY KEY, name text)");
             Relay relay = Relay.start(f.config().withHttpPort(0))) {
            int port = relay.httpPort();
            assertEquals(200, get(port, "/health").statusCode());
            java.lang.reflect.Field field = Relay.class.getDeclaredField("feed");
            field.setAccessible(true);
            io.syncsqlite.relay.feed.ChangeFeed feed = (io.syncsqlite.relay.feed.ChangeFeed) field.get(relay);
            feed.addListener(() -> {
                throw new StackOverflowError("simulated");
            });
            f.execute("INSERT INTO item VALUES (1, 'a')");
            org.awaitility.Awaitility.await().dontCatchUncaughtExceptions().atMost(java.time.Duration.ofSeconds(10))
                    .until(() -> get(port, "/health").statusCode() == 503);
            assertTrue(get(port, "/health").body().contains("change feed stopped"));
        }
    }

    @Test
    void healthAndMetricsReflectWhatTheRelayDid() throws Exception {
        try (RelayFixture f = RelayFixture.start("ops", "CREATE TABLE item (id int PRIMARY KEY, name text)");
             Relay relay = Relay.start(f.config().withHttpPort(0))) {
            int port = relay.httpPort();
            HttpResponse<String> health = get(port, "/health");
            assertEquals(200, health.statusCode());
            assertTrue(health.body().contains("\"ok\""), health.body());

            TestClient c = TestClient.connect(relay.uri());
            c.hello("ops-a", 0);
            long h = Hlc.ofMillis(System.currentTimeMillis());
            c.push(tx(1, h, insert("item", obj("id", 1), obj("name", "a")), insert("item", obj("id", 2), obj("name", "b"))),
                    tx(2, h + 1, insert("item", obj("id", 3), obj("name", "c"))));
            c.awaitAck(2);
            c.awaitCursor(f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log"));

            HttpResponse<String> metrics = get(port, "/metrics");
            assertEquals(200, metrics.statusCode());
            assertTrue(metrics.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
            String body = metrics.body();
            assertEquals(1, metric(body, "syncsqlite_clients_connected"));
            assertEquals(2, metric(body, "syncsqlite_transactions_applied_total"));
            assertEquals(3, metric(body, "syncsqlite_rows_in_total"));
            assertTrue(metric(body, "syncsqlite_feed_entries_out_total") >= 3, body);
            assertEquals(2, metric(body, "syncsqlite_apply_seconds_count"));
            assertEquals(0, metric(body, "syncsqlite_feed_lag_commits"));
            c.close();

            relay.close();
            // Once the relay is stopped, nothing answers on its port any more.
            assertTrue(assertThrowsIo(() -> get(port, "/health")));
        }
    }

    private interface Call {
        void run() throws Exception;
    }

    private static boolean assertThrowsIo(Call call) {
        try {
            call.run();
            return false;
        } catch (java.io.IOException e) {
            return true;
        } catch (Exception e) {
            return false;
        }
    }
}
