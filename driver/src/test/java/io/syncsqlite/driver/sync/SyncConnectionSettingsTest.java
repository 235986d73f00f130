package io.syncsqlite.driver.sync;

import io.syncsqlite.driver.jdbc.SyncConnection;
import org.junit.jupiter.api.Test;
import org.sqlite.SQLiteConnection;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * The sync client's own SQLite connection skips the sync to disk per commit only where that is safe: in
 * WAL mode, never above what the application asked for, never for the application's connections; and it
 * skips sqlite-jdbc's generated-keys query after each insert, which the application's keep. No relay
 * runs here (the server address is closed): the sync client's connection is opened all the same.
 */
class SyncConnectionSettingsTest {

    @TempDir
    Path dir;

    private String url(String name, String extra) {
        return "jdbc:syncsqlite:" + dir.resolve(name) + "?sync.server=ws://127.0.0.1:9/sync&sync.lingerMs=0" + extra;
    }

    private static int synchronous(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("PRAGMA synchronous")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private static Connection syncSide(Connection app) throws SQLException {
        Connection c = app.unwrap(SyncConnection.class).node().syncConnection();
        assertNotNull(c, "a node with a server has a sync client");
        return c;
    }

    @Test
    void inWalModeTheSyncClientCommitsWithoutASyncAndTheApplicationKeepsItsLevel() throws SQLException {
        try (Connection app = DriverManager.getConnection(url("wal.db", ""))) {
            assertEquals(2, synchronous(app), "the application's connection keeps SQLite's default (FULL)");
            assertEquals(1, synchronous(syncSide(app)), "the sync client's connection runs with NORMAL");
        }
    }

    @Test
    void onlyTheApplicationsConnectionRunsAQueryForGeneratedKeysAfterEachInsert() throws SQLException {
        try (Connection app = DriverManager.getConnection(url("keys.db", ""))) {
            assertTrue(app.unwrap(SQLiteConnection.class).getConnectionConfig().isGetGeneratedKeys(),
                    "applications read getGeneratedKeys() after inserts, as with sqlite-jdbc");
            assertFalse(syncSide(app).unwrap(SQLiteConnection.class).getConnectionConfig().isGetGeneratedKeys(),
                    "the sync client never does, and inserts every feed row");
        }
    }

    @Test
    void inRollbackJournalModeTheSyncClientKeepsFull() throws SQLException {
        try (Connection app = DriverManager.getConnection(url("journal.db", "&journal_mode=DELETE"))) {
            assertEquals(2, synchronous(syncSide(app)), "NORMAL can corrupt a rollback-journal file on power loss");
        }
    }

    @Test
    void aLowerLevelTheApplicationChoseIsNotRaised() throws SQLException {
        try (Connection app = DriverManager.getConnection(url("off.db", "&synchronous=OFF"))) {
            assertEquals(0, synchronous(app));
            assertEquals(0, synchronous(syncSide(app)));
        }
    }
}
