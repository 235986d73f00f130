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
}
