package io.syncsqlite.driver.sync;

import io.syncsqlite.driver.jdbc.SyncConnection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.reflect.Field;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The snapshot request of a table that became synced is a row in {@code _sync_state}, written with the table's
 * capture and taken by the sync client at connect; against real SQLite files (from a review of 6f1b508).
 */
class SnapshotRequestReviewTest {

    @TempDir
    Path dir;

    private String file() {
        return dir.resolve("app.db").toString();
    }

    private static void exec(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private long requested() throws SQLException {
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file());
             Statement st = plain.createStatement();
             ResultSet rs = st.executeQuery("SELECT v FROM _sync_state WHERE k = 'snapshot_needed'")) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    /** Whether the node's sync client was asked to reconnect for a snapshot (SyncClient.resyncRequested). */
    private static boolean reconnectRequested(Connection app) throws Exception {
        return (boolean) reconnectFlag().get(client(app));
    }

    private static void clearReconnectRequest(Connection app) throws Exception {
        reconnectFlag().set(client(app), false);
    }

    private static Object client(Connection app) throws Exception {
        Field client = SyncNode.class.getDeclaredField("client");
        client.setAccessible(true);
        return client.get(app.unwrap(SyncConnection.class).node());
    }

    private static Field reconnectFlag() throws Exception {
        Field flag = SyncClient.class.getDeclaredField("resyncRequested");
        flag.setAccessible(true);
        return flag;
    }

    /**
     * A synced table dropped and created again in one transaction (a migration that rebuilds a table) is
     * recorded anew in {@code _sync_tables}, so the installer writes the snapshot request; the node used to ask
     * its client to reconnect only when the set of synced table names grew, which here it does not (found by
     * review of 6f1b508). The relay address is a closed port: the client never gets past connecting, so the
     * flag it would clear at connect stays as the node set it.
     */
    @Test
    void aTableRecreatedInOneTransactionRequestsASnapshotAndAReconnect() throws Exception {
        try (Connection app = DriverManager.getConnection("jdbc:syncsqlite:" + file()
                + "?sync.server=ws://127.0.0.1:9/sync&sync.lingerMs=0&sync.reconnectMaxMs=60000")) {
            exec(app, "CREATE TABLE label (id TEXT PRIMARY KEY, name TEXT)");
            try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file())) {
                exec(plain, "DELETE FROM _sync_state WHERE k = 'snapshot_needed'"); // as if taken by a connect
            }
            clearReconnectRequest(app);

            // Control: in auto-commit the drop shrinks the set and the create grows it again.
            exec(app, "DROP TABLE label");
            exec(app, "CREATE TABLE label (id TEXT PRIMARY KEY, name TEXT)");
            assertEquals(1, requested());
            assertTrue(reconnectRequested(app), "auto-commit DROP then CREATE: the client reconnects for the snapshot");
            try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file())) {
                exec(plain, "DELETE FROM _sync_state WHERE k = 'snapshot_needed'");
            }
            clearReconnectRequest(app);

            app.setAutoCommit(false);
            exec(app, "DROP TABLE label");
            exec(app, "CREATE TABLE label (id TEXT PRIMARY KEY, name TEXT)");
            app.commit();
            app.setAutoCommit(true);
            assertEquals(1, requested(), "the file says the next connection needs a snapshot");
            assertTrue(reconnectRequested(app),
                    "and the connected client is told to reconnect for it");
        }
    }

    /**
     * With {@code sync.enabled=false} (capture only) there is no client to tell, but the
     * file keeps the request, and the first sync-enabled connection takes it (the in-memory flag of the
     * previous version was dropped on the floor here, with no client to receive it).
     */
    @Test
    void aTableCreatedInCaptureOnlyModeIsRequestedForTheNextSyncingConnection() throws Exception {
        try (Connection app = DriverManager.getConnection("jdbc:syncsqlite:" + file() + "?sync.lingerMs=0");
             Connection client = DriverManager.getConnection("jdbc:sqlite:" + file())) {
            exec(app, "CREATE TABLE task (id TEXT PRIMARY KEY, title TEXT)");
            LocalStore store = LocalStores.open(client);
            assertTrue((store.snapshotRequest() != 0), "the first tables request a snapshot");
            assertFalse(LocalStores.takeAtConnect(store), "taken by the first connection: cursor 0, a plain snapshot");
            assertFalse((store.snapshotRequest() != 0));
            store.applyFeed(java.util.List.of(), 42);
            store.close();
        }
        try (Connection app = DriverManager.getConnection("jdbc:syncsqlite:" + file()
                + "?sync.lingerMs=0&sync.enabled=false&sync.server=ws://127.0.0.1:9/sync")) {
            exec(app, "CREATE TABLE label (id TEXT PRIMARY KEY, name TEXT)");
        }
        assertEquals(1, requested());
        try (Connection client = DriverManager.getConnection("jdbc:sqlite:" + file());
             LocalStore store = LocalStores.open(client)) {
            assertEquals(42, store.cursor());
            assertTrue(LocalStores.takeAtConnect(store));
            assertEquals(0, store.cursor());
        }
    }

    /**
     * The cost question: only a table recorded for the first time, or a synced table that gained a column
     * (PostgreSQL may hold values of it that the feed skipped), requests a snapshot. Reopening a file whose
     * tables are all recorded (by this version or the previous one, which wrote the same {@code _sync_tables}
     * rows and no request), or refreshing capture after other DDL (CREATE INDEX, an unkeyed table), requests
     * nothing, so no cursor is reset.
     */
    @Test
    void onlyANewlyRecordedTableOrColumnRequestsASnapshot() throws Exception {
        try (Connection app = DriverManager.getConnection("jdbc:syncsqlite:" + file() + "?sync.lingerMs=0")) {
            exec(app, "CREATE TABLE task (id TEXT PRIMARY KEY, title TEXT)");
        }
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file())) {
            // A file as the previous version left it: tables recorded, no request, the cursor moved on.
            exec(plain, "DELETE FROM _sync_state WHERE k = 'snapshot_needed'");
            exec(plain, "INSERT INTO _sync_state (k, v) VALUES ('cursor', 42) ON CONFLICT (k) DO UPDATE SET v = 42");
        }
        try (Connection app = DriverManager.getConnection("jdbc:syncsqlite:" + file() + "?sync.lingerMs=0")) {
            exec(app, "CREATE INDEX task_title ON task (title)");
            exec(app, "CREATE TABLE scratch (a, b)");
            exec(app, "INSERT INTO task (id, title) VALUES ('t1', 'x')");
        }
        assertEquals(0, requested());
        try (Connection client = DriverManager.getConnection("jdbc:sqlite:" + file());
             LocalStore store = LocalStores.open(client)) {
            assertFalse(LocalStores.takeAtConnect(store));
            assertEquals(42, store.cursor());
        }
        try (Connection app = DriverManager.getConnection("jdbc:syncsqlite:" + file() + "?sync.lingerMs=0")) {
            exec(app, "ALTER TABLE task ADD COLUMN note TEXT");
        }
        assertEquals(1, requested());
    }
}
