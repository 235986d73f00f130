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
 * A transaction the relay refuses before PostgreSQL (here: it also writes {@code drafts}, a local table
 * with a key, synced because {@code sync.tables} is empty, that PostgreSQL does not have: 42P01) is undone
 * on the client for every row the relay can name: the rejection carries their current images. Before, it
 * carried none, and the client kept the refused values of synced rows while PostgreSQL and every other
 * client had the old ones (found by EchoSecondReviewTest's review).
 */
class RefusedBeforePostgresTest {

    private static final String ITEMS = "SELECT id, name FROM items ORDER BY id";

    @TempDir
    Path dir;

    @Test
    void theClientRevertsUpdatesDeletesAndInsertsOfARefusedTransaction() throws Exception {
        try (Cluster c = Cluster.start("refused_pre_pg", dir, "CREATE TABLE items (id text PRIMARY KEY, name text)")) {
            Client a = c.client("a", "CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT)",
                    "CREATE TABLE drafts (id INTEGER PRIMARY KEY)");
            Client b = c.client("b", "CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT)");
            a.exec("INSERT INTO items (id, name) VALUES ('kept', 'k'), ('gone', 'g')");
            List<Map<String, Object>> before = List.of(Map.of("id", "gone", "name", "g"), Map.of("id", "kept", "name", "k"));
            Cluster.eventually(() -> c.pgRows(ITEMS), r -> r.equals(before));
            c.awaitConverged(ITEMS, a, b);

            a.transaction("UPDATE items SET name = 'changed' WHERE id = 'kept'",
                    "DELETE FROM items WHERE id = 'gone'",
                    "INSERT INTO items (id, name) VALUES ('new', 'n')",
                    "INSERT INTO drafts (id) VALUES (1)");
            // A later transaction of the same client is applied as usual.
            a.exec("INSERT INTO items (id, name) VALUES ('after', 'a')");

            List<Map<String, Object>> after = List.of(Map.of("id", "after", "name", "a"),
                    Map.of("id", "gone", "name", "g"), Map.of("id", "kept", "name", "k"));
            Cluster.eventually(() -> c.pgRows(ITEMS), r -> r.equals(after));
            c.awaitConverged(ITEMS, a, b);
            assertEquals(after, c.pgRows(ITEMS));
        }
    }
}
