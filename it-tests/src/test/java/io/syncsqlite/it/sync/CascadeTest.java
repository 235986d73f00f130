package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@code ON DELETE CASCADE} behaves the same on every side (issue 4, "Referential integrity"): a parent
 * deleted on a client that enforces foreign keys, on a client that does not, or directly in PostgreSQL,
 * leaves no orphan anywhere, and a child added offline to a parent deleted meanwhile brings the parent back
 * everywhere instead of being cascaded away.
 */
class CascadeTest {

    private static final String[] PG = {
        "CREATE TABLE album (id text PRIMARY KEY, title text)",
        "CREATE TABLE track (id text PRIMARY KEY, album_id text NOT NULL REFERENCES album (id) ON DELETE CASCADE, name text)",
    };
    private static final String[] LOCAL = {
        "CREATE TABLE album (id TEXT PRIMARY KEY, title TEXT)",
        "CREATE TABLE track (id TEXT PRIMARY KEY, album_id TEXT NOT NULL REFERENCES album (id) ON DELETE CASCADE, name TEXT)",
    };
    private static final String ALBUMS = "SELECT id, title FROM album ORDER BY id";
    private static final String TRACKS = "SELECT id, album_id, name FROM track ORDER BY id";

    @TempDir
    Path dir;

    @Test
    void deletesCascadeAlikeOnEverySide() throws Exception {
        try (Cluster cluster = Cluster.start("cascade", dir, PG)) {
            Client enforcing = cluster.clientParams("&foreign_keys=true").client("fk", LOCAL);
            Client plain = cluster.clientParams("").client("plain", LOCAL);
            enforcing.script("INSERT INTO album VALUES ('a1', 'One')", "INSERT INTO album VALUES ('a2', 'Two')",
                    "INSERT INTO album VALUES ('a3', 'Three')",
                    "INSERT INTO track VALUES ('t1', 'a1', 'x')", "INSERT INTO track VALUES ('t2', 'a1', 'y')",
                    "INSERT INTO track VALUES ('t3', 'a2', 'z')", "INSERT INTO track VALUES ('t4', 'a3', 'w')");
            enforcing.awaitSynced();
            cluster.awaitConverged(TRACKS, enforcing, plain);

            // 1. On the enforcing client SQLite cascades locally; the cascaded deletes are captured too.
            enforcing.exec("DELETE FROM album WHERE id = 'a1'");
            assertEquals(0, enforcing.rows("SELECT * FROM track WHERE album_id = 'a1'").size());
            // 2. On the plain client only the parent is deleted locally; PostgreSQL's cascade comes back.
            plain.exec("DELETE FROM album WHERE id = 'a2'");
            // 3. Directly in PostgreSQL.
            cluster.pg("DELETE FROM album WHERE id = 'a3'");
            enforcing.awaitSynced();
            plain.awaitSynced();
            cluster.awaitConverged(ALBUMS, enforcing, plain);
            cluster.awaitConverged(TRACKS, enforcing, plain);
            assertEquals(0, plain.rows(TRACKS).size());
        }
    }

    @Test
    void aChildAddedOfflineToADeletedParentRestoresItEverywhere() throws Exception {
        try (Cluster cluster = Cluster.start("cascade2", dir, PG).clientParams("&foreign_keys=true")) {
            Client a = cluster.client("a", LOCAL);
            Client b = cluster.client("b", LOCAL);
            a.script("INSERT INTO album VALUES ('a1', 'One')", "INSERT INTO track VALUES ('t1', 'a1', 'x')");
            a.awaitSynced();
            cluster.awaitConverged(TRACKS, a, b);
            b.offline();
            b.exec("INSERT INTO track VALUES ('t2', 'a1', 'added offline')");
            a.exec("DELETE FROM album WHERE id = 'a1'");
            a.awaitSynced();
            // b, still offline, receives nothing yet; once online its child reaches PostgreSQL, the album is
            // restored there (compensation) and comes back to a; b's pending child was never cascaded away.
            b.online();
            b.awaitSynced();
            a.awaitSynced();
            cluster.awaitConverged(ALBUMS, a, b);
            cluster.awaitConverged(TRACKS, a, b);
            assertEquals(1, cluster.pgRows("SELECT 1 FROM album WHERE id = 'a1'").size());
            assertEquals(1, cluster.pgRows("SELECT 1 FROM track WHERE id = 't2'").size());
        }
    }
}
