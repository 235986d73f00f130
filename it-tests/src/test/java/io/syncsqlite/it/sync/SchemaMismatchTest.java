package io.syncsqlite.it.sync;

import io.syncsqlite.driver.jdbc.SyncConnection;
import io.syncsqlite.driver.sync.SyncNode;
import io.syncsqlite.it.support.RelayFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Schema mismatches are reported when a client connects (issue 5): the driver compares its synced tables
 * with the relay's and lists every difference that would lose or refuse data in its status (and the log),
 * while what fits syncs as usual.
 */
class SchemaMismatchTest {

    private static RelayFixture f;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        f = RelayFixture.start("mismatch",
                "CREATE TABLE item (id text PRIMARY KEY, qty integer, price numeric(10,2), made timestamptz,"
                        + " photo bytea, remote_only text)",
                "CREATE TABLE pair (a text, b text, note text, PRIMARY KEY (a, b))");
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    private Connection open(String name, String... ddl) throws Exception {
        Path file = dir.resolve(name + ".db");
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = plain.createStatement()) {
            for (String s : ddl) {
                st.execute(s);
            }
        }
        return DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.server=" + f.uri() + "&sync.lingerMs=0");
    }

    @Test
    void differencesAreListedAtConnect() throws Exception {
        try (Connection c = open("differs",
                "CREATE TABLE item (id TEXT PRIMARY KEY, qty TEXT, price NUMERIC, made TIMESTAMP, photo TEXT,"
                        + " local_only TEXT)",
                "CREATE TABLE pair (a TEXT PRIMARY KEY, b TEXT, note TEXT)",
                "CREATE TABLE gadget (id TEXT PRIMARY KEY, name TEXT)")) {
            SyncNode node = c.unwrap(SyncConnection.class).node();
            List<String> found = await().atMost(Duration.ofSeconds(20))
                    .until(() -> node.status().schemaDifferences(), d -> !d.isEmpty());
            assertEquals(List.of(
                    "table item: column qty is TEXT here, INTEGER in PostgreSQL",
                    "table item: column photo is TEXT here, BLOB in PostgreSQL",
                    "table item: column local_only is not in PostgreSQL: its values will be rejected",
                    "table item: PostgreSQL column remote_only is not here: its values are not kept locally",
                    "table pair: primary key [a] here, [a, b] in PostgreSQL",
                    "table gadget is not synced by the relay: its changes will be rejected"),
                    found.stream().sorted(SchemaMismatchTest::byTableOrder).toList());
        }
    }

    /** Keeps the driver's order within a table, and orders tables as listed above. */
    private static int byTableOrder(String x, String y) {
        List<String> tables = List.of("table item", "table pair", "table gadget");
        int tx = tables.indexOf(tables.stream().filter(x::startsWith).findFirst().orElseThrow());
        int ty = tables.indexOf(tables.stream().filter(y::startsWith).findFirst().orElseThrow());
        return Integer.compare(tx, ty);
    }

    @Test
    void aFittingSchemaReportsNothingAndSyncs() throws Exception {
        try (Connection c = open("fits",
                "CREATE TABLE item (id TEXT PRIMARY KEY, qty INTEGER, price NUMERIC, made TIMESTAMP, photo BLOB,"
                        + " remote_only TEXT)",
                "CREATE TABLE pair (a TEXT, b TEXT, note TEXT, PRIMARY KEY (a, b))")) {
            SyncNode node = c.unwrap(SyncConnection.class).node();
            c.createStatement().executeUpdate("INSERT INTO item (id, qty) VALUES ('fit-1', 3)");
            assertTrue(node.awaitSynced(Duration.ofSeconds(20)));
            assertEquals(1, f.queryLong("SELECT count(*) FROM item WHERE id = 'fit-1' AND qty = 3"));
            assertEquals(List.of(), node.status().schemaDifferences());
        }
    }
}
