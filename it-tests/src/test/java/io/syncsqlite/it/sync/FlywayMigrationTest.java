package io.syncsqlite.it.sync;

import io.syncsqlite.driver.jdbc.SyncDataSource;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * Flyway, as a Spring Boot application runs it at start, on new files opened through the driver: the migrations
 * create, seed and then alter the synced table, the rows reach PostgreSQL and the other device, and each device's
 * schema history stays its own. Before, Flyway refused every new file: the driver's own tables made it look like
 * a database in use without a history table.
 */
class FlywayMigrationTest {

    @TempDir
    Path dir;

    private static int migrate(Client client) {
        return flyway(client).migrate().migrationsExecuted;
    }

    private static Flyway flyway(Client client) {
        return Flyway.configure().dataSource(new SyncDataSource(client.url())).locations("classpath:flyway/app").load();
    }

    private static long outboxEnd(Client client) throws java.sql.SQLException {
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + client.file());
             Statement st = raw.createStatement();
             ResultSet rs = st.executeQuery("SELECT coalesce(max(seq), 0) FROM _sync_outbox")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void migrationsOnNewFilesSyncTheirTablesAndRows() throws Exception {
        try (Cluster cluster = Cluster.start("flyway", dir,
                "CREATE TABLE item (id bigint PRIMARY KEY, name text NOT NULL, qty int NOT NULL DEFAULT 0, note text)")) {
            Client a = cluster.client("a");
            Client b = cluster.client("b");

            assertEquals(3, migrate(a));
            a.awaitSynced();
            List<Map<String, Object>> pg = cluster.pgRows("SELECT id, name, note FROM item ORDER BY id");
            assertEquals(List.of("one", "two"), pg.stream().map(r -> r.get("name")).toList());
            assertEquals(List.of("note 1", "note 2"), pg.stream().map(r -> r.get("note")).toList());
            // The history table is the device's own: not captured, not sent.
            assertNull(cluster.pgRows("SELECT to_regclass('flyway_schema_history') AS t").get(0).get("t"));
            try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + a.file());
                 Statement st = raw.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*) FROM _sync_outbox WHERE tbl = 'flyway_schema_history'")) {
                rs.next();
                assertEquals(0, rs.getInt(1));
            }

            // The application's next start: nothing to migrate, and the history validates.
            assertEquals(0, migrate(a));
            flyway(a).validate();

            // The other device migrates its own new file, while the first one's rows come from the server.
            assertEquals(3, migrate(b));
            a.exec("UPDATE item SET qty = qty + 5 WHERE id = 1");
            b.exec("UPDATE item SET qty = qty + 3 WHERE id = 1");
            b.exec("INSERT INTO item (id, name, note) VALUES (3, 'three', 'from b')");
            a.awaitSynced();
            b.awaitSynced();
            cluster.awaitConverged("SELECT id, name, qty, note FROM item ORDER BY id", a, b);
            assertEquals(List.of(8, 0, 0), cluster.pgRows("SELECT qty FROM item ORDER BY id").stream()
                    .map(r -> ((Number) r.get("qty")).intValue()).toList());
        }
    }

    /**
     * A migration that rebuilds a synced table the way SQLite's documentation says (create {@code new_item}, copy,
     * drop {@code item}, rename), on a device that already syncs it, while the row is edited in PostgreSQL: the copy
     * is not sent (sent again with new clocks it would overwrite that edit), the new column's values are, and the
     * other device runs the same migration and converges. Before, the rename was refused (SY002) and the migration
     * failed.
     */
    @Test
    void aMigrationThatRebuildsATableInTheDocumentedOrderIsFollowed() throws Exception {
        try (Cluster cluster = Cluster.start("flyway_rebuild", dir, "CREATE TABLE item (id bigint PRIMARY KEY,"
                + " name text NOT NULL, qty int NOT NULL DEFAULT 0, note text, tag text)")) {
            Client a = cluster.client("a");
            Client b = cluster.client("b");
            assertEquals(3, migrate(a));
            assertEquals(3, migrate(b));
            a.awaitSynced();
            b.awaitSynced();

            a.offline();
            long before = outboxEnd(a);
            cluster.pg("UPDATE item SET name = 'uno' WHERE id = 1"); // someone else's edit, made meanwhile
            Flyway withRebuild = Flyway.configure().dataSource(new SyncDataSource(a.url()))
                    .locations("classpath:flyway/app", "classpath:flyway/rebuild").load();
            assertEquals(1, withRebuild.migrate().migrationsExecuted);
            try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + a.file());
                 Statement st = raw.createStatement();
                 ResultSet rs = st.executeQuery("SELECT group_concat(op || ' ' || tbl) FROM _sync_outbox WHERE seq > " + before
                         + " AND op <> 0")) {
                rs.next();
                assertEquals("2 item,2 item", rs.getString(1)); // the tags only: no insert of the copy
            }
            a.online();
            a.awaitSynced();
            assertEquals(List.of("uno|tag 1", "two|tag 2"), cluster.pgRows("SELECT name, tag FROM item ORDER BY id").stream()
                    .map(r -> r.get("name") + "|" + r.get("tag")).toList());

            assertEquals(1, Flyway.configure().dataSource(new SyncDataSource(b.url()))
                    .locations("classpath:flyway/app", "classpath:flyway/rebuild").load().migrate().migrationsExecuted);
            b.exec("UPDATE item SET qty = qty + 2 WHERE id = 2");
            a.awaitSynced();
            b.awaitSynced();
            cluster.awaitConverged("SELECT id, name, qty, note, tag FROM item ORDER BY id", a, b);
            assertEquals(List.of("1|uno|0|tag 1", "2|two|2|tag 2"), a.rows("SELECT id, name, qty, tag FROM item ORDER BY id")
                    .stream().map(r -> r.get("id") + "|" + r.get("name") + "|" + r.get("qty") + "|" + r.get("tag")).toList());
        }
    }
}
