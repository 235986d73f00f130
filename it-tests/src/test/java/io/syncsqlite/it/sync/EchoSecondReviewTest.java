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
 * More of why the relay sends a client the echo of its own writes (see EchoReviewTest), from a second
 * review of the withdrawn echo filter, which assumed that when the echo of a client's own insert (or
 * delete) arrives, the client's row still holds what it sent. Each case here changes the client's row
 * after its write by something that is neither a pending write nor healed by a later feed entry; the
 * echo is what sets the row back to PostgreSQL's, and each of these failed without it.
 */
class EchoSecondReviewTest {

    @TempDir
    Path dir;

    /**
     * LocalStore.applyEntry resolves a UNIQUE collision between a server row and a pending local row with
     * INSERT OR REPLACE, which deletes the local row (without capture: REPLACE fires no delete trigger).
     * Here the server row that collided ('b', x@e) moved to another e-mail before the client's insert
     * ('a1', x@e) reached PostgreSQL, so PostgreSQL accepts the insert exactly as sent, and a filter
     * would drop its echo. But the client no longer holds 'a1': the echo is what recreates it.
     *
     * <p>The filler commit keeps catch-up compaction from merging the insert of 'b' with its update
     * (as in EchoReviewTest): a live client gets both as they come anyway.
     */
    @Test
    void pendingRowReplacedByAUniqueCollisionIsRestoredOnlyByTheEcho() throws Exception {
        try (Cluster c = Cluster.start("echo2_unique", dir,
                "CREATE TABLE users (id text PRIMARY KEY, email text UNIQUE)")) {
            Client a = c.client("a", "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE)");
            a.exec("INSERT INTO users (id, email) VALUES ('seed', 'seed@e')");
            a.awaitSynced();

            a.offline();
            c.pg("INSERT INTO users (id, email) VALUES ('b', 'x@e')");
            c.pg("INSERT INTO users (id, email) SELECT 'filler' || g, 'f' || g || '@e' FROM generate_series(1, 1000) AS g");
            c.pg("UPDATE users SET email = 'y@e' WHERE id = 'b'");
            a.exec("INSERT INTO users (id, email) VALUES ('a1', 'x@e')");
            a.online();

            a.awaitSynced();
            String q = "SELECT id, email FROM users WHERE id IN ('a1', 'b') ORDER BY id";
            assertEquals(List.of(Map.of("id", "a1", "email", "x@e"), Map.of("id", "b", "email", "y@e")), c.pgRows(q));
            c.awaitConverged(q, a); // without the echo: a lacks 'a1' for good
        }
    }

    /**
     * A transaction rejected before PostgreSQL (Validation: here it also writes a table the relay does not
     * sync, 42P01) came back with no current rows, so the client reverted nothing: its update of 'k' stayed
     * in the file. The client's earlier insert of 'k', acknowledged and stored by PostgreSQL exactly as
     * sent, has an echo that sets 'k' back to PostgreSQL's value; without it, the client would keep the
     * rejected value while PostgreSQL and every other client have the inserted one. (The rejection now
     * carries the rows to revert to as well, RefusedBeforePostgresTest; this checks the two agree.)
     */
    @Test
    void updateRejectedBeforePostgresIsUndoneOnlyByTheEchoOfTheEarlierInsert() throws Exception {
        assertRejectedWriteUndoneByEcho("echo2_reject_upd", List.of(
                "INSERT INTO items (id, name) VALUES ('k', 'v')"), List.of(
                "UPDATE items SET name = 'w' WHERE id = 'k'",
                "INSERT INTO drafts (id) VALUES (1)"),
                List.of(Map.of("id", "k", "name", "v"), Map.of("id", "seed", "name", "s")));
    }

    /** The same with a delete: the rejected re-insert stays in the file, the echo of the delete would remove it. */
    @Test
    void reinsertRejectedBeforePostgresIsRemovedOnlyByTheEchoOfTheEarlierDelete() throws Exception {
        assertRejectedWriteUndoneByEcho("echo2_reject_del", List.of(
                "DELETE FROM items WHERE id = 'seed'"), List.of(
                "INSERT INTO items (id, name) VALUES ('seed', 'again')",
                "INSERT INTO drafts (id) VALUES (1)"),
                List.of());
    }

    private void assertRejectedWriteUndoneByEcho(String db, List<String> first, List<String> rejected,
                                                 List<Map<String, Object>> expected) throws Exception {
        try (Cluster c = Cluster.start(db, dir, "CREATE TABLE items (id text PRIMARY KEY, name text)")) {
            // drafts is a local table with a primary key: synced (sync.tables empty), unknown to the relay.
            Client a = c.client("a", "CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT)",
                    "CREATE TABLE drafts (id INTEGER PRIMARY KEY)");
            a.exec("INSERT INTO items (id, name) VALUES ('seed', 's')");
            Cluster.eventually(() -> c.pgRows("SELECT id FROM items"), r -> r.size() == 1);

            a.offline();
            a.transaction(first.toArray(String[]::new));
            a.transaction(rejected.toArray(String[]::new));
            a.online();

            String q = "SELECT id, name FROM items WHERE id IN ('k', 'seed') ORDER BY id";
            a.awaitSynced(); // both transactions settled (the second by its rejection), their results back
            assertEquals(expected, c.pgRows(q));
            c.awaitConverged(q, a); // without the echo: a keeps the rejected write
        }
    }
}
