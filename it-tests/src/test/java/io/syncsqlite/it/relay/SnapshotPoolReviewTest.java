package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.it.support.Tokens;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.Message;
import io.syncsqlite.relay.Relay;
import io.syncsqlite.relay.RelayConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Review of f574c5c (snapshot connections kept for the next snapshot): slots, shutdown, failures, scopes. */
class SnapshotPoolReviewTest {

    private static final String SNAPSHOT_BACKENDS = "SELECT pid, state FROM pg_stat_activity"
            + " WHERE datname = current_database() AND application_name LIKE '% snapshot' ORDER BY pid";
    private static final String SECRET = "0123456789abcdef0123456789abcdef-review-secret";

    @TempDir
    Path dir;

    /** A relay on a table of 20,000 rows: big enough that a client which does not confirm holds its snapshot open. */
    private static RelayFixture withRows(String prefix) {
        RelayFixture f = RelayFixture.start(prefix, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        f.execute("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 20000) AS g");
        return f;
    }

    private static long head(RelayFixture f) {
        return f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
    }

    /** Two clients whose snapshots are open at once (two connections), both closed mid-way. */
    private static void twoLeaveMidSnapshot(RelayFixture f, String prefix) {
        TestClient a = holding(f, prefix + "-a");
        TestClient b = holding(f, prefix + "-b");
        a.close();
        b.close();
    }

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
        RelayFixture f = withRows("rvclose");
        try {
            long head = head(f);
            assertEquals(20000, fullSnapshot(f, "rvclose-full", head));
            TestClient held = holding(f, "rvclose-held");
            // Awaited, not asserted at once: the relay may still be fetching the batches the client's window
            // allows (state "active") when the client has the first two.
            await().atMost(Duration.ofSeconds(10)).until(() ->
                    f.query(SNAPSHOT_BACKENDS).stream().anyMatch(r -> r.get(1).equals("idle in transaction")));
            f.relay().close();
            await().atMost(Duration.ofSeconds(10)).until(() -> f.query(SNAPSHOT_BACKENDS).isEmpty());
            held.close();
        } finally {
            f.close();
        }
    }

    @Test
    void sessionsClosedMidSnapshotFreeTheirSlotsAndConnections() {
        try (RelayFixture f = withRows("rvmid")) {
            long head = head(f);
            for (int i = 0; i < 6; i++) {
                twoLeaveMidSnapshot(f, "rvmid" + i);
            }
            assertEquals(20000, fullSnapshot(f, "rvmid-full", head));
            assertTrue(f.query(SNAPSHOT_BACKENDS).size() <= 2, f.query(SNAPSHOT_BACKENDS).toString());
            await().atMost(Duration.ofSeconds(5)).until(() -> f.query(SNAPSHOT_BACKENDS).stream()
                    .allMatch(r -> r.get(1).equals("idle")));
        }
    }

    @Test
    void backendKilledMidSnapshotFreesTheSlot() {
        try (RelayFixture f = withRows("rvkill")) {
            long head = head(f);
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
        try (RelayFixture f = withRows("rvdead")) {
            long head = head(f);
            for (int round = 0; round < 3; round++) {
                twoLeaveMidSnapshot(f, "rvdead" + round);
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
            long head = head(f);
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
        return Tokens.hs256(SECRET, user);
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
                long head = head(f);
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
