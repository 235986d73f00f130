package io.syncsqlite.it.relay;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.syncsqlite.it.harness.RelayProcess;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.Hlc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The relay as an operator runs it: a config file, JSON logs, the HTTP endpoint, and SIGTERM. Logs must
 * hold no row value (written by a client or directly in PostgreSQL) and no password.
 */
class OperationsProcessTest {

    @Test
    void configFileJsonLogsWithoutValuesAndSigtermDrains(@TempDir Path dir) throws Exception {
        try (RelayFixture f = RelayFixture.start("opsproc", "CREATE TABLE t (id int PRIMARY KEY, v text)")) {
            int httpPort;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                httpPort = s.getLocalPort();
            }
            Path config = dir.resolve("relay.properties");
            Files.writeString(config, "log-format=json\nhttp-port=" + httpPort + "\npool-size=2\n");
            Path log = dir.resolve("relay.log");
            RelayProcess relay = RelayProcess.start(f.dbUrl(), log, "--config", config.toString());
            try {
                HttpClient http = HttpClient.newHttpClient();
                URI metrics = URI.create("http://127.0.0.1:" + httpPort + "/metrics");
                await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> http.send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/health")).build(),
                        HttpResponse.BodyHandlers.ofString()).statusCode() == 200);

                TestClient c = TestClient.connect(URI.create("ws://127.0.0.1:" + relay.port() + "/sync"));
                c.hello("proc-node", 0);
                long future = Hlc.ofMillis(System.currentTimeMillis() + 300_000);
                c.push(tx(1, future, insert("t", obj("id", 1), obj("v", "client-secret-value-4711"))));
                c.awaitAck(1);
                f.execute("INSERT INTO t VALUES (2, 'direct-secret-value-0815')");
                await().atMost(Duration.ofSeconds(20)).until(() -> c.entries().size() >= 2);
                String body = http.send(HttpRequest.newBuilder(metrics).build(), HttpResponse.BodyHandlers.ofString()).body();
                assertTrue(body.lines().anyMatch("syncsqlite_rows_in_total 1"::equals), body);

                assertEquals(143, relay.terminate(60), "exit code of a JVM ended by SIGTERM after its shutdown hook");
                assertEquals(1001, c.awaitClose());
                c.close();
            } finally {
                relay.close();
            }

            List<String> lines = Files.readAllLines(log).stream().filter(l -> !l.isBlank()).toList();
            ObjectMapper json = new ObjectMapper();
            StringBuilder messages = new StringBuilder();
            for (String line : lines) {
                JsonNode n;
                try {
                    n = json.readTree(line); // every line is one JSON object
                } catch (java.io.IOException e) {
                    throw new AssertionError("not a JSON line: " + line + "\nwhole log:\n" + String.join("\n", lines), e);
                }
                assertTrue(n.has("level") && n.has("loggerName") && n.has("formattedMessage"), line);
                messages.append(n.get("formattedMessage").asText()).append('\n');
            }
            String all = String.join("\n", lines);
            assertTrue(messages.toString().contains("listening on ws://127.0.0.1:" + relay.port()), all);
            assertTrue(messages.toString().contains("node proc-node connected"), all);
            assertTrue(messages.toString().contains("stopped"), all);
            assertFalse(all.contains("client-secret-value-4711"), all);
            assertFalse(all.contains("direct-secret-value-0815"), all);
        }
    }
}
