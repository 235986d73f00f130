package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.SQLException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A full-text index on each device (SQLite's documented external-content FTS5 table, kept by triggers) over a synced
 * table: notes written on one device, on the other and directly in PostgreSQL are found by a search on every device,
 * because the index's triggers run for the rows the sync client writes too, and the index itself is not synced.
 * Before, the FTS5 table's shadow tables were synced like any table with a key, and the first insert crashed the
 * JVM inside SQLite.
 */
class FullTextSearchTest {

    private static final String[] LOCAL = {
            "CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
            "CREATE VIRTUAL TABLE note_fts USING fts5(body, content='note', content_rowid='id')",
            "CREATE TRIGGER note_ai AFTER INSERT ON note BEGIN"
                    + " INSERT INTO note_fts (rowid, body) VALUES (new.id, new.body); END",
            "CREATE TRIGGER note_ad AFTER DELETE ON note BEGIN"
                    + " INSERT INTO note_fts (note_fts, rowid, body) VALUES ('delete', old.id, old.body); END",
            "CREATE TRIGGER note_au AFTER UPDATE ON note BEGIN"
                    + " INSERT INTO note_fts (note_fts, rowid, body) VALUES ('delete', old.id, old.body);"
                    + " INSERT INTO note_fts (rowid, body) VALUES (new.id, new.body); END",
    };

    @TempDir
    Path dir;

    private static List<Object> search(Client c, String words) throws SQLException {
        return c.rows("SELECT rowid AS id FROM note_fts WHERE note_fts MATCH '" + words + "' ORDER BY rowid").stream()
                .map(r -> (Object) ((Number) r.get("id")).longValue()).toList();
    }

    @Test
    void eachDevicesIndexFollowsEveryonesNotes() throws Exception {
        try (Cluster cluster = Cluster.start("fts", dir, "CREATE TABLE note (id bigint PRIMARY KEY, body text NOT NULL)")) {
            Client a = cluster.client("a", LOCAL);
            Client b = cluster.client("b", LOCAL);

            a.exec("INSERT INTO note (id, body) VALUES (1, 'offline first sync'), (2, 'grocery list')");
            b.transaction("INSERT INTO note (id, body) VALUES (3, 'sync over websockets')",
                    "INSERT INTO note (id, body) VALUES (4, 'holiday plans')");
            cluster.pg("INSERT INTO note (id, body) VALUES (5, 'written in psql, found by sync')");
            a.awaitSynced();
            b.awaitSynced();
            cluster.awaitConverged("SELECT id, body FROM note ORDER BY id", a, b);
            assertEquals(List.of(1L, 3L, 5L), search(a, "sync"));
            assertEquals(List.of(1L, 3L, 5L), search(b, "sync"));

            b.exec("UPDATE note SET body = 'grocery list: sync the milk' WHERE id = 2"); // a remote update reindexes
            a.exec("DELETE FROM note WHERE id = 3"); // and a remote delete unindexes
            cluster.pg("UPDATE note SET body = 'nothing to find' WHERE id = 5");
            a.awaitSynced();
            b.awaitSynced();
            cluster.awaitConverged("SELECT id, body FROM note ORDER BY id", a, b);
            for (Client c : List.of(a, b)) {
                assertEquals(List.of(1L, 2L), search(c, "sync"), c.name());
                assertEquals(List.of(2L), search(c, "milk"), c.name());
                // the index agrees with its table: FTS5's own check
                c.exec("INSERT INTO note_fts (note_fts) VALUES ('integrity-check')");
            }
            // only the notes reached PostgreSQL
            assertEquals(List.of("note"), cluster.pgRows("SELECT table_name FROM information_schema.tables"
                    + " WHERE table_schema = 'public' ORDER BY 1").stream().map(r -> r.get("table_name")).toList());
        }
    }
}
