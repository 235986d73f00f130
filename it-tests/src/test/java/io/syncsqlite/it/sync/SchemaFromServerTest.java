package io.syncsqlite.it.sync;

import io.syncsqlite.driver.jdbc.SyncConnection;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.relay.Relay;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code sync.schema=server} (issue 5): an application that never creates its tables opens an empty file,
 * and the synced tables appear with the server's columns and key, filled with the server's rows; integer
 * keys then work as for any synced table.
 */
class SchemaFromServerTest {

    @TempDir
    Path dir;

    @Test
    void anEmptyFileGetsTheServersTablesAndRows() throws Exception {
        try (RelayFixture f = RelayFixture.start("schemasrv",
                "CREATE TABLE todo (id bigserial PRIMARY KEY, title text NOT NULL, done boolean NOT NULL DEFAULT false,"
                        + " due date, data bytea)",
                "INSERT INTO todo (title, done, due) VALUES ('from the server', true, '2026-12-01')")) {
            Relay relay = f.relay();
            String url = "jdbc:syncsqlite:" + dir.resolve("empty.db") + "?sync.server=" + relay.uri()
                    + "&sync.schema=server&sync.lingerMs=0&sync.reconnectMaxMs=300";
            try (Connection c = DriverManager.getConnection(url)) {
                await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> {
                    try (ResultSet rs = c.createStatement().executeQuery("SELECT count(*) FROM todo")) {
                        return rs.next() && rs.getInt(1) == 1;
                    }
                });
                try (ResultSet rs = c.createStatement().executeQuery(
                        "SELECT name, type, pk FROM pragma_table_info('todo') ORDER BY cid")) {
                    StringBuilder cols = new StringBuilder();
                    while (rs.next()) {
                        cols.append(rs.getString(1)).append(':').append(rs.getString(2)).append(':').append(rs.getInt(3)).append(' ');
                    }
                    // A date column is declared DATE, so that sqlite-jdbc's getDate and setDate work on it (the
                    // driver converts its epoch milliseconds: DESIGN.md, "Dates, times and UUIDs").
                    assertEquals("id:INTEGER:1 title:TEXT:0 done:BOOLEAN:0 due:DATE:0 data:BLOB:0 ", cols.toString());
                }
                try (ResultSet rs = c.createStatement().executeQuery("SELECT title, done, due FROM todo")) {
                    rs.next();
                    assertEquals("from the server", rs.getString(1));
                    assertTrue(rs.getBoolean(2));
                    assertEquals(java.sql.Date.valueOf("2026-12-01"), rs.getDate(3));
                }
                // The created table syncs like any other, integer keys included.
                c.createStatement().executeUpdate("INSERT INTO todo (title, done) VALUES ('from the app', 0)");
                assertTrue(c.unwrap(SyncConnection.class).node().awaitSynced(Duration.ofSeconds(20)));
                assertEquals(1, f.queryLong("SELECT count(*) FROM todo WHERE title = 'from the app' AND NOT done"));
            }
        }
    }
}
