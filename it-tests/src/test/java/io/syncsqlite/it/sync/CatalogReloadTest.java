package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Schema changes in PostgreSQL while the relay runs (issue 5): a column added to a synced table, and a new
 * table, are picked up without restarting the relay once a client uses them; and the rows a table already
 * held when it became synced reach clients that are already syncing.
 */
class CatalogReloadTest {

    @TempDir
    Path dir;

    @Test
    void anAddedColumnAndANewTableWorkWithoutARestart() throws Exception {
        try (Cluster cluster = Cluster.start("reload", dir, "CREATE TABLE note (id text PRIMARY KEY, body text)")) {
            Client c = cluster.client("c", "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT)");
            c.exec("INSERT INTO note (id, body) VALUES ('n1', 'before')");
            c.awaitSynced();

            // The schema grows on both sides (PostgreSQL by the operator, SQLite by the app's migration).
            cluster.pg("ALTER TABLE note ADD COLUMN tag text", "CREATE TABLE label (id text PRIMARY KEY, name text)");
            c.script("ALTER TABLE note ADD COLUMN tag TEXT", "CREATE TABLE label (id TEXT PRIMARY KEY, name TEXT)");
            c.exec("INSERT INTO note (id, body, tag) VALUES ('n2', 'after', 'new column')");
            c.exec("INSERT INTO label (id, name) VALUES ('l1', 'new table')");
            c.awaitSynced();
            assertEquals("new column", cluster.pgRows("SELECT tag FROM note WHERE id = 'n2'").get(0).get("tag"));
            assertEquals("new table", cluster.pgRows("SELECT name FROM label WHERE id = 'l1'").get(0).get("name"));

            // And back: direct writes to the new column and the new table reach the client.
            cluster.pg("UPDATE note SET tag = 'set in psql' WHERE id = 'n1'", "INSERT INTO label VALUES ('l2', 'from psql')");
            cluster.awaitConverged("SELECT id, body, tag FROM note ORDER BY id", c);
            cluster.awaitConverged("SELECT id, name FROM label ORDER BY id", c);
        }
    }

    @Test
    void rowsATableHeldBeforeItWasSyncedReachRunningClients() throws Exception {
        try (Cluster cluster = Cluster.start("backfill", dir, "CREATE TABLE note (id text PRIMARY KEY, body text)")) {
            Client c = cluster.client("c", "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT)",
                    "CREATE TABLE archive (id INTEGER PRIMARY KEY, year INTEGER, title TEXT)");
            c.exec("INSERT INTO note (id, body) VALUES ('n1', 'syncing')");
            c.awaitSynced();
            // Created and filled in one transaction: no capture trigger can have seen these rows. More rows
            // than one backfill chunk, with a two-column order to page through.
            cluster.pg("BEGIN; CREATE TABLE archive (id integer PRIMARY KEY, year integer, title text);"
                    + " INSERT INTO archive SELECT g, 2000 + g % 20, 'title ' || g FROM generate_series(1, 12000) AS g;"
                    + " COMMIT");
            cluster.awaitConverged("SELECT id, year, title FROM archive ORDER BY id", c);
            assertEquals(12000, c.rows("SELECT id FROM archive").size());
            // Later writes still flow after the backfill.
            cluster.pg("UPDATE archive SET title = 'edited' WHERE id = 7");
            cluster.awaitConverged("SELECT id, year, title FROM archive WHERE id <= 10 ORDER BY id", c);
        }
    }

    /**
     * The app's migration adds a table while the device is offline, and the app is restarted before it ever
     * reconnects: only the file can remember that a snapshot is needed. And since the file had a feed
     * position, the snapshot is a resync: a row deleted on the server meanwhile goes too (a snapshot only
     * brings rows; the feed from the old position, which would have carried the delete, is not read).
     */
    @Test
    void aTableCreatedLocallyWhileOfflineGetsTheRowsAlreadyStreamedPastEvenAfterARestart() throws Exception {
        try (Cluster cluster = Cluster.start("latetable", dir, "CREATE TABLE note (id text PRIMARY KEY, body text)",
                "CREATE TABLE label (id text PRIMARY KEY, name text)",
                "INSERT INTO label VALUES ('l1', 'in the snapshot')",
                "INSERT INTO note VALUES ('n0', 'deleted later')")) {
            Client c = cluster.client("c", "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT)");
            cluster.pg("INSERT INTO label VALUES ('l2', 'in the feed')");
            c.exec("INSERT INTO note (id, body) VALUES ('n1', 'after both')");
            // The echo of n1 comes after l2's commit: the cursor is past both label rows, which this file skipped.
            c.awaitSynced();
            assertEquals(2, c.rows("SELECT id FROM note").size());

            c.offline();
            cluster.pg("DELETE FROM note WHERE id = 'n0'");
            c.script("CREATE TABLE label (id TEXT PRIMARY KEY, name TEXT)");
            c.close();
            c.online();
            c.reopen();
            cluster.awaitConverged("SELECT id, name FROM label ORDER BY id", c);
            assertEquals(2, c.rows("SELECT id FROM label").size());
            cluster.awaitConverged("SELECT id, body FROM note ORDER BY id", c);
            assertEquals(1, c.rows("SELECT id FROM note").size());
        }
    }
}
