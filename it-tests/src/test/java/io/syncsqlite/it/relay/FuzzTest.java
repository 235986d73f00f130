package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.relay.Relay;
import org.junit.jupiter.api.Test;

import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Thousands of random and mutated frames against a real relay (issue 6, "Hardened protocol"): binary
 * garbage, random text and JSON, valid messages with bytes flipped, well-formed messages with bad fields
 * (unknown tables and columns, wrong types, huge values, injection attempts), wrong message order and
 * oversized frames, over a few hundred connections. Afterwards the relay still serves a well-behaved
 * client, and the application tables hold exactly what that client wrote. The seed is printed;
 * {@code -Dsyncsqlite.fuzz.seed=N} replays one, {@code -Dsyncsqlite.fuzz.connections=N} runs longer.
 */
class FuzzTest {

    private static final String[] TEMPLATES = {
        "{\"type\":\"hello\",\"version\":1,\"node\":\"fuzz\",\"cursor\":0}",
        "{\"type\":\"push\",\"txs\":[{\"id\":1,\"hlc\":123456789,\"changes\":[{\"table\":\"fuzzsink\",\"kind\":\"INSERT\","
                + "\"pk\":{\"id\":1},\"values\":{\"v\":\"x\"}}]}]}",
        "{\"type\":\"push\",\"txs\":[{\"id\":2,\"hlc\":1,\"changes\":[{\"table\":\"nosuch\",\"kind\":\"UPDATE\","
                + "\"pk\":{\"id\":\"1; DROP TABLE fuzzsink\"},\"values\":{\"v\\\"; --\":1}}]}]}",
        "{\"type\":\"push\",\"txs\":[{\"id\":3,\"hlc\":-5,\"changes\":[{\"table\":\"fuzzsink\",\"kind\":\"DELETE\","
                + "\"pk\":{\"id\":99999999999999999999999},\"values\":{}}]}]}",
        "{\"type\":\"progress\",\"cursor\":-1}",
        "{\"type\":\"idRequest\",\"table\":\"fuzzsink\",\"count\":100000000}",
        "{\"type\":\"welcome\",\"appliedTx\":1,\"appliedSeq\":1,\"head\":1}",
        "{\"type\":\"changes\",\"entries\":[],\"through\":5,\"snapshotTotal\":0}",
        "{\"type\":\"ack\",\"tx\":1,\"seq\":1}",
    };

    @Test
    void theRelaySurvivesGarbageAndWritesNothingOfIt() throws Exception {
        long seed = Long.getLong("syncsqlite.fuzz.seed", 20261122L);
        int connections = Integer.getInteger("syncsqlite.fuzz.connections", 600);
        System.out.println("fuzz: seed " + seed + ", " + connections + " connections");
        Random rnd = new Random(seed);
        try (RelayFixture f = RelayFixture.start("fuzz",
                "CREATE TABLE item (id int PRIMARY KEY, label text)",
                "CREATE TABLE fuzzsink (id int PRIMARY KEY, v text, CHECK (false))");
             Relay relay = Relay.start(f.config().withMaxFrameBytes(64 * 1024))) {
            HttpClient http = HttpClient.newHttpClient();
            AtomicInteger frames = new AtomicInteger();
            AtomicInteger closedByRelay = new AtomicInteger();
            for (int conn = 0; conn < connections; conn++) {
                WebSocket ws;
                try {
                    ws = http.newWebSocketBuilder().buildAsync(relay.uri(), new WebSocket.Listener() {
                        @Override
                        public CompletionStage<?> onClose(WebSocket w, int code, String reason) {
                            closedByRelay.incrementAndGet();
                            return null;
                        }
                    }).get(10, TimeUnit.SECONDS);
                } catch (Exception e) {
                    throw new AssertionError("seed " + seed + ": relay stopped accepting at connection " + conn, e);
                }
                if (rnd.nextBoolean()) {
                    send(ws, TEMPLATES[0].replace("fuzz", "fuzz-" + conn));
                }
                int n = 1 + rnd.nextInt(10);
                for (int i = 0; i < n && !ws.isOutputClosed(); i++) {
                    frames.incrementAndGet();
                    try {
                        frame(ws, rnd);
                    } catch (Exception closed) {
                        break; // the relay closed this connection: expected for most garbage
                    }
                }
                ws.abort();
            }
            System.out.println("fuzz: " + frames.get() + " frames, " + closedByRelay.get() + " connections closed by the relay");

            // Still serving: a well-behaved client syncs.
            TestClient good = TestClient.connect(relay.uri());
            good.hello("well-behaved", 0);
            long h = Hlc.ofMillis(System.currentTimeMillis());
            good.push(tx(1, h, insert("item", obj("id", 1), obj("label", "real")),
                    insert("item", obj("id", 2), obj("label", "also real"))));
            good.awaitAck(1);
            good.close();
            assertEquals(List.of(List.of("1", "real"), List.of("2", "also real")),
                    f.query("SELECT id, label FROM item ORDER BY id"), "seed " + seed);
            assertEquals(0, f.queryLong("SELECT count(*) FROM fuzzsink"), "seed " + seed);
            assertTrue(f.queryLong("SELECT count(*) FROM pg_tables WHERE tablename = 'fuzzsink'") == 1);
        }
    }

    private static void send(WebSocket ws, String text) throws Exception {
        ws.sendText(text, true).get(5, TimeUnit.SECONDS);
    }

    private static void frame(WebSocket ws, Random rnd) throws Exception {
        switch (rnd.nextInt(7)) {
            case 0 -> {
                byte[] b = new byte[rnd.nextInt(512)];
                rnd.nextBytes(b);
                ws.sendBinary(ByteBuffer.wrap(b), true).get(5, TimeUnit.SECONDS);
            }
            case 1 -> send(ws, randomText(rnd, rnd.nextInt(300)));
            case 2 -> send(ws, randomJson(rnd, 0));
            case 3, 4 -> send(ws, mutate(TEMPLATES[rnd.nextInt(TEMPLATES.length)], rnd));
            case 5 -> send(ws, TEMPLATES[1 + rnd.nextInt(TEMPLATES.length - 1)]); // valid shape, any order
            default -> send(ws, "{\"type\":\"push\",\"txs\":[" + "9".repeat(70 * 1024) + "]}"); // over 64 KiB
        }
    }

    private static String randomText(Random rnd, int length) {
        StringBuilder sb = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            sb.append((char) (rnd.nextInt(10) == 0 ? rnd.nextInt(0x3000) : 32 + rnd.nextInt(95)));
        }
        return sb.toString();
    }

    private static String randomJson(Random rnd, int depth) {
        switch (depth > 6 ? rnd.nextInt(4) : rnd.nextInt(7)) {
            case 0:
                return String.valueOf(rnd.nextLong());
            case 1:
                return "\"" + randomText(rnd, rnd.nextInt(20)).replace("\\", "").replace("\"", "") + "\"";
            case 2:
                return rnd.nextBoolean() ? "true" : "null";
            case 3:
                return String.valueOf(rnd.nextDouble() * 1e300);
            case 4: {
                StringBuilder sb = new StringBuilder("[");
                for (int i = rnd.nextInt(5); i > 0; i--) {
                    sb.append(randomJson(rnd, depth + 1)).append(i > 1 ? "," : "");
                }
                return sb.append(']').toString();
            }
            default: {
                StringBuilder sb = new StringBuilder("{");
                String[] keys = {"type", "txs", "changes", "table", "pk", "values", "id", "hlc", "node", "cursor", "kind"};
                for (int i = rnd.nextInt(5); i > 0; i--) {
                    sb.append('"').append(keys[rnd.nextInt(keys.length)]).append("\":")
                            .append(randomJson(rnd, depth + 1)).append(i > 1 ? "," : "");
                }
                return sb.append('}').toString();
            }
        }
    }

    private static String mutate(String s, Random rnd) {
        StringBuilder sb = new StringBuilder(s);
        for (int k = 1 + rnd.nextInt(4); k > 0 && sb.length() > 0; k--) {
            int at = rnd.nextInt(sb.length());
            switch (rnd.nextInt(4)) {
                case 0 -> sb.setCharAt(at, (char) (32 + rnd.nextInt(95)));
                case 1 -> sb.deleteCharAt(at);
                case 2 -> sb.insert(at, (char) (32 + rnd.nextInt(95)));
                default -> sb.insert(at, sb.substring(at, Math.min(sb.length(), at + rnd.nextInt(40))));
            }
        }
        return new String(sb.toString().getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8);
    }
}
