package io.syncsqlite.it.relay;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.Message;
import io.syncsqlite.relay.Relay;
import io.syncsqlite.relay.RelayConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Review of f574c5c: snapshot connections kept for the next snapshot. */
class SnapshotPoolReviewTest {

    private static final String SNAPSHOT_BACKENDS = "SELECT pid, state FROM pg_stat_activity"
            + " WHERE datname = current_database() AND application_name LIKE '% snapshot' ORDER BY pid";
    private static final String SECRET = "0123456789abcdef0123456789abcdef-review-secret";

    @TempDir
    Path dir;

    /** A client that does not confirm, so its snapshot stays open after the first few batches. */
    private static TestClient holding(RelayFixture f, String node) {
        TestClient c = f.connect();
        c.autoProgress(false);
        c.hello(node, 0);
        c.await(() -> c.changes().size() >= 2 ? true : null, "first snapshot batches");
        return c;
    }

    private static long fullSnapshot(RelayFixture f, String node, long head) {
        try (TestClient c = f.client(node, 0)) {
            c.awaitCursor(head);
            return c.entries().stream().filter(e -> e.table().equals("t")).map(FeedEntry::pk).distinct().count();
        }
    }

    @Test
    void relayCloseLeavesNoSnapshotConnections() {
        RelayFixture f = RelayFixture.start("rvclose", "CREATE TABLE t (id int PRIMARY KEY, v text)");
        try {
            f.execute("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 20000) AS g");
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            assertEquals(20000, fullSnapshot(f, "rvclose-full", head));
            TestClient held = holding(f, "rvclose-held");
            assertTrue(f.query(SNAPSHOT_BACKENDS).stream().anyMatch(r -> r.get(1).equals("idle in transaction")),
                    "a snapshot is open: " + f.query(SNAPSHOT_BACKENDS));
            f.relay().close();
            await().atMost(Duration.ofSeconds(10)).until(() -> f.query(SNAPSHOT_BACKENDS).isEmpty());
            held.close();
        } finally {
            f.close();
        }
    }

    @Test
    void sessionsClosedMidSnapshotFreeTheirSlotsAndConnections() {
        try (RelayFixture f = RelayFixture.start("rvmid", "CREATE TABLE t (id int PRIMARY KEY, v text)")) {
            f.execute("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 20000) AS g");
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            for (int i = 0; i < 6; i++) {
                TestClient a = holding(f, "rvmid-a" + i);
                TestClient b = holding(f, "rvmid-b" + i);
                a.close();
                b.close();
            }
            assertEquals(20000, fullSnapshot(f, "rvmid-full", head));
            assertTrue(f.query(SNAPSHOT_BACKENDS).size() <= 2, f.query(SNAPSHOT_BACKENDS).toString());
            await().atMost(Duration.ofSeconds(5)).until(() -> f.query(SNAPSHOT_BACKENDS).stream()
                    .allMatch(r -> r.get(1).equals("idle")));
        }
    }

    @Test
    void backendKilledMidSnapshotFreesTheSlot() {
        try (RelayFixture f = RelayFixture.start("rvkill", "CREATE TABLE t (id int PRIMARY KEY, v text)")) {
            f.execute("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 20000) AS g");
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            for (int i = 0; i < 3; i++) {
                TestClient a = holding(f, "rvkill-a" + i);
                f.query("SELECT pg_terminate_backend(pid) FROM (" + SNAPSHOT_BACKENDS + ") AS s");
                a.sendProgress(0);
                a.awaitClose();
                a.close();
            }
            assertEquals(20000, fullSnapshot(f, "rvkill-full", head));
        }
    }

    @Test
    void everyIdleConnectionDeadWithConcurrentSnapshots() throws Exception {
        try (RelayFixture f = RelayFixture.start("rvdead", "CREATE TABLE t (id int PRIMARY KEY, v text)")) {
            f.execute("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 20000) AS g");
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            for (int round = 0; round < 3; round++) {
                TestClient a = holding(f, "rvdead-a" + round);
                TestClient b = holding(f, "rvdead-b" + round);
                a.close();
                b.close();
                await().atMost(Duration.ofSeconds(5)).until(() -> f.query(SNAPSHOT_BACKENDS).size() == 2
                        && f.query(SNAPSHOT_BACKENDS).stream().allMatch(r -> r.get(1).equals("idle")));
                f.query("SELECT pg_terminate_backend(pid) FROM (" + SNAPSHOT_BACKENDS + ") AS s");
                await().atMost(Duration.ofSeconds(10)).until(() -> f.query(SNAPSHOT_BACKENDS).isEmpty());
                final int r = round;
                List<CompletableFuture<Long>> all = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    final int n = i;
                    all.add(CompletableFuture.supplyAsync(() -> fullSnapshot(f, "rvdead-c" + r + "-" + n, head)));
                }
                for (CompletableFuture<Long> c : all) {
                    assertEquals(20000L, c.get());
                }
            }
        }
    }

    @Test
    void columnChangesAfterManySnapshotsOnTheSameConnection() {
        try (RelayFixture f = RelayFixture.start("rvddl", "CREATE TABLE t (id int PRIMARY KEY, v text)")) {
            f.execute("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 50) AS g");
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            for (int i = 0; i < 8; i++) {
                assertEquals(50, fullSnapshot(f, "rvddl-" + i, head));
            }
            f.execute("ALTER TABLE t ALTER COLUMN v TYPE varchar(40)", "ALTER TABLE t ADD COLUMN w int DEFAULT 7");
            await().atMost(Duration.ofSeconds(20)).until(() -> {
                try (TestClient c = f.client("rvddl-after-" + System.nanoTime(), 0)) {
                    c.awaitCursor(head);
                    return c.entries().stream().filter(e -> e.table().equals("t")).count() == 50
                            && c.entries().stream().allMatch(e -> e.row().path("w").asInt() == 7);
                }
            });
            for (int i = 0; i < 8; i++) {
                assertEquals(50, fullSnapshot(f, "rvddl-again-" + i, head));
            }
        }
    }

    static String token(String user) throws Exception {
        Instant now = Instant.now();
        JWTClaimsSet claims = new JWTClaimsSet.Builder().subject(user).notBeforeTime(Date.from(now.minusSeconds(5)))
                .expirationTime(Date.from(now.plusSeconds(600))).build();
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
        jwt.sign(new MACSigner(SECRET.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        return jwt.serialize();
    }

    @Test
    void scopedSnapshotsOnReusedConnectionsSeeOnlyTheirUsersRows() throws Exception {
        try (RelayFixture f = RelayFixture.start("rvscope",
                "CREATE TABLE note (id text PRIMARY KEY, owner text NOT NULL, body text)",
                "CREATE TABLE member (project_id text NOT NULL, user_id text NOT NULL, PRIMARY KEY (project_id, user_id))",
                "CREATE TABLE doc (id text PRIMARY KEY, project_id text NOT NULL, title text)",
                "INSERT INTO note SELECT 'n' || g, CASE WHEN g % 2 = 0 THEN 'alice' ELSE 'bob' END, 'b' FROM generate_series(1, 3000) g",
                "INSERT INTO member VALUES ('p1', 'alice'), ('p2', 'bob')",
                "INSERT INTO doc SELECT 'd' || g, 'p' || (1 + g % 2), 't' FROM generate_series(1, 3000) g")) {
            Path rules = dir.resolve("scopes.json");
            Files.writeString(rules, """
                    {
                      "note":   { "rows": "owner = :sub" },
                      "member": { "rows": "user_id = :sub", "write": false },
                      "doc":    { "rows": "project_id IN (SELECT project_id FROM member WHERE user_id = :sub)" }
                    }
                    """);
            Relay relay = Relay.start(f.config().withAuth(new RelayConfig.Auth(SECRET, null, null)).withScopes(rules));
            try {
                long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
                for (int i = 0; i < 16; i++) {
                    String user = i % 2 == 0 ? "alice" : "bob";
                    // Every other one leaves mid-snapshot.
                    try (TestClient c = TestClient.connect(relay.uri(), token(user))) {
                        if (i % 4 == 3) {
                            c.autoProgress(false);
                        }
                        c.hello("rvscope-" + i, 0);
                        if (i % 4 == 3) {
                            c.await(() -> c.changes().size() >= 1 ? true : null, "a batch");
                            for (FeedEntry e : c.entries()) {
                                check(user, e);
                            }
                            continue;
                        }
                        c.awaitCursor(head);
                        TreeSet<String> tables = new TreeSet<>();
                        for (FeedEntry e : c.entries()) {
                            check(user, e);
                            tables.add(e.table());
                        }
                        assertEquals(1500 + 1 + 1500, c.entries().size(), user + " " + i + " " + tables);
                    }
                }
            } finally {
                relay.close();
            }
        }
    }

    private static void check(String user, FeedEntry e) {
        switch (e.table()) {
            case "note" -> assertEquals(user, e.row().get("owner").asText(), e.toString());
            case "member" -> assertEquals(user, e.row().get("user_id").asText(), e.toString());
            case "doc" -> assertEquals(user.equals("alice") ? "p1" : "p2", e.row().get("project_id").asText(), e.toString());
            default -> throw new AssertionError(e.toString());
        }
    }
}
