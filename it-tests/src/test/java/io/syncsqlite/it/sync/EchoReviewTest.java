package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Why the relay sends a client the echo of its own writes, even where PostgreSQL stored them exactly as
 * sent: cases where applying that echo is not a no-op on the client. From the review of an echo filter
 * that left such entries out (withdrawn, docs/BENCHMARKS.md); each of these failed with it.
 */
class EchoReviewTest {

    private static final String PG_CATEGORIES = "CREATE TABLE categories (name text PRIMARY KEY, count integer NOT NULL)";
    private static final String LOCAL_CATEGORIES = "CREATE TABLE categories (name TEXT PRIMARY KEY, count INTEGER NOT NULL)";
    private static final String ALL = "SELECT name, count FROM categories ORDER BY name";
    private static final String FOOD = "SELECT name, count FROM categories WHERE name = 'Food'";

    @TempDir
    Path dir;

    /**
     * A counter column shows the server's value plus the pending amount: while the client's insert of
     * 'Food' (amount 5) waits, it applies an older server image of the row (count 7, another writer's
     * row that was deleted since) as 7 + 5 = 12. The server then creates the row from the insert alone:
     * count 5, exactly what the client sent, so a filter would leave the echo out. But the echo is not a
     * no-op: it is what sets the client's 12 back to 5. Without it the client stays at 12, PostgreSQL at 5.
     *
     * <p>The filler commit (1000 rows) only keeps catch-up compaction from merging the older image with
     * the delete (a live client gets every commit as it is anyway).
     */
    @Test
    void counterShownAsOlderServerValuePlusPendingAmountIsResetOnlyByTheEcho() throws Exception {
        counterScenario("echo_review_counter", "&sync.counters=categories.count",
                "INSERT INTO categories (name, count) VALUES ('Food', 5)");
    }

    /** The same with no setting at all: the upsert that adds {@code excluded.count} is inferred as a counter. */
    @Test
    void inferredCounterOfAnUpsertThatCreatedTheRowIsResetOnlyByTheEcho() throws Exception {
        counterScenario("echo_review_upsert", "", "INSERT INTO categories (name, count) VALUES ('Food', 5)"
                + " ON CONFLICT (name) DO UPDATE SET count = count + excluded.count");
    }

    private void counterScenario(String db, String params, String insert) throws Exception {
        try (Cluster c = Cluster.start(db, dir, PG_CATEGORIES).clientParams(params)) {
            Client a = c.client("a", LOCAL_CATEGORIES);
            a.exec("INSERT INTO categories (name, count) VALUES ('seed', 1)");
            a.awaitSynced();
            c.awaitConverged(ALL, a);

            a.offline();
            c.pg("INSERT INTO categories (name, count) VALUES ('Food', 7)"); // S0: a gets it in catch-up
            c.pg("INSERT INTO categories (name, count) SELECT 'filler' || g, 0 FROM generate_series(1, 1000) AS g");
            c.pg("DELETE FROM categories WHERE name = 'Food'"); // S0.5: skipped on a (its insert is pending)
            Thread.sleep(50); // a's insert is stamped after the delete, so it recreates the row
            a.exec(insert);
            a.online();

            a.awaitSynced();
            assertEquals(List.of(Map.of("name", "Food", "count", 5L)), c.pgRows(FOOD));
            c.awaitConverged(FOOD, a); // without the echo: a holds ('Food', 12)
        }
    }

    /**
     * A BLOB column holding text that looks like bytea ({@code '\x41'}): it is sent as that text, which
     * PostgreSQL's bytea column stores as the byte 0x41 and shows as the same text, so a filter would
     * leave the echo out. Applied, it makes the client's value the BLOB x'41' that every other client holds
     * (LocalStore.bind turns "\x.." into bytes for a BLOB column); left out, the writer alone would keep a TEXT.
     */
    @Test
    void textThatLooksLikeByteaInABlobColumnStaysTextOnTheWriterOnly() throws Exception {
        try (Cluster c = Cluster.start("echo_review_blob", dir, "CREATE TABLE doc (id text PRIMARY KEY, data bytea)")) {
            String local = "CREATE TABLE doc (id TEXT PRIMARY KEY, data BLOB)";
            Client a = c.client("a", local);
            Client b = c.client("b", local);
            a.exec("INSERT INTO doc (id, data) VALUES ('d1', ?)", "\\x41");
            a.awaitSynced();
            String types = "SELECT id, typeof(data) AS t, hex(data) AS h FROM doc ORDER BY id";
            Cluster.eventually(() -> b.rows(types), r -> r.size() == 1);
            assertEquals(b.rows(types), a.rows(types), "writer vs another client");
        }
    }
}
