package io.syncsqlite.it.sync;

import io.syncsqlite.driver.jdbc.SyncDataSource;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.it.harness.Rows;
import liquibase.Scope;
import liquibase.command.CommandScope;
import liquibase.command.core.UpdateCommandStep;
import liquibase.command.core.helpers.DbUrlConnectionArgumentsCommandStep;
import liquibase.database.Database;
import liquibase.database.DatabaseFactory;
import liquibase.database.jvm.JdbcConnection;
import liquibase.resource.ClassLoaderResourceAccessor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * Liquibase (4.33), as a Spring Boot application runs it at start with its DataSource, on new files opened through
 * the driver: the changelog creates, seeds and then alters the synced table, the rows reach PostgreSQL and the
 * other device, and each device's DATABASECHANGELOG stays its own. Before, every new file failed at the first
 * changeset with SQLITE_BUSY_SNAPSHOT (CaptureTest has the cause in plain JDBC).
 */
class LiquibaseMigrationTest {

    private static final String PG = "CREATE TABLE item (id bigint PRIMARY KEY, name text NOT NULL, qty int NOT NULL DEFAULT 0,"
            + " note text, tag text)";

    @TempDir
    Path dir;

    /** Runs {@code update} of {@code changelog} on a connection of the driver's DataSource, as SpringLiquibase does. */
    private static void update(Client client, String changelog) throws Exception {
        try (Connection conn = new SyncDataSource(client.url()).getConnection()) {
            Database db = DatabaseFactory.getInstance().findCorrectDatabaseImplementation(new JdbcConnection(conn));
            Scope.child(Scope.Attr.resourceAccessor.name(), new ClassLoaderResourceAccessor(), () -> new CommandScope(UpdateCommandStep.COMMAND_NAME)
                    .addArgumentValue(DbUrlConnectionArgumentsCommandStep.DATABASE_ARG, db)
                    .addArgumentValue(UpdateCommandStep.CHANGELOG_FILE_ARG, changelog)
                    .execute());
        }
    }

    /** DATABASECHANGELOG's ids in order, read with plain sqlite-jdbc. */
    private static List<Object> history(Client client) throws SQLException {
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + client.file())) {
            return Rows.query(raw, "SELECT ID AS id FROM DATABASECHANGELOG ORDER BY ORDEREXECUTED").stream().map(r -> r.get("id")).toList();
        }
    }

    private static long outboxEnd(Client client) throws SQLException {
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + client.file());
             Statement st = raw.createStatement();
             ResultSet rs = st.executeQuery("SELECT coalesce(max(seq), 0) FROM _sync_outbox")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static int outboxRows(Client client, String table) throws SQLException {
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + client.file());
             Statement st = raw.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM _sync_outbox WHERE lower(tbl) = lower('" + table + "')")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    @Test
    void aChangelogOnNewFilesSyncsItsTablesAndRows() throws Exception {
        try (Cluster cluster = Cluster.start("liquibase", dir, PG)) {
            Client a = cluster.client("a");
            Client b = cluster.client("b");

            update(a, "liquibase/changelog.yaml");
            List<Object> ran = history(a);
            assertEquals(List.of("1-create-item", "2-seed-item", "3-add-note"), ran);
            a.awaitSynced();
            List<Map<String, Object>> pg = cluster.pgRows("SELECT id, name, note FROM item ORDER BY id");
            assertEquals(List.of("one", "two"), pg.stream().map(r -> r.get("name")).toList());
            assertEquals(List.of("note 1", "note 2"), pg.stream().map(r -> r.get("note")).toList());
            // Liquibase's tables are the device's own: not captured, not sent.
            assertNull(cluster.pgRows("SELECT to_regclass('databasechangelog') AS t").get(0).get("t"));
            assertEquals(0, outboxRows(a, "DATABASECHANGELOG") + outboxRows(a, "DATABASECHANGELOGLOCK"));

            // The application's next start: nothing to run.
            update(a, "liquibase/changelog.yaml");
            assertEquals(ran, history(a));

            // The other device runs the changelog on its own new file, while the first one's rows come from the server.
            update(b, "liquibase/changelog.yaml");
            assertEquals(ran, history(b));
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
     * Liquibase's addColumn on a synced table that already holds rows and syncs: on SQLite it rebuilds the table
     * (rename it, create it anew, copy the rows, drop the old one) in the changeset's transaction. The driver follows
     * the rebuild: the copy is not sent again, the new column's values are, and the other device gets them too.
     * Before, the rename was refused (SY002) and the changeset failed.
     */
    @Test
    void liquibasesAddColumnRebuildIsFollowed() throws Exception {
        try (Cluster cluster = Cluster.start("liquibase_add", dir, PG)) {
            Client a = cluster.client("a");
            Client b = cluster.client("b");
            update(a, "liquibase/changelog.yaml");
            update(b, "liquibase/changelog.yaml");
            a.exec("UPDATE item SET qty = qty + 1 WHERE id = 1");
            a.awaitSynced();
            b.awaitSynced();
            long before = outboxEnd(a);

            a.offline(); // what the migration captured stays in the outbox to be looked at
            update(a, "liquibase/add-column.yaml");
            assertEquals(List.of("1-create-item", "2-seed-item", "3-add-note", "4-add-tag"), history(a));
            assertEquals(List.of("id", "name", "qty", "note", "tag"), a.rows("SELECT name FROM pragma_table_info('item')").stream()
                    .map(r -> r.get("name")).toList());
            // the copy was not captured: only the fill's two updates
            try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + a.file());
                 Statement st = raw.createStatement();
                 ResultSet rs = st.executeQuery("SELECT group_concat(op) FROM _sync_outbox WHERE seq > " + before + " AND op <> 0")) {
                rs.next();
                assertEquals("2,2", rs.getString(1));
            }
            a.online();
            a.awaitSynced();
            assertEquals(List.of("tag 1", "tag 2"), cluster.pgRows("SELECT tag FROM item ORDER BY id").stream()
                    .map(r -> r.get("tag")).toList());
            update(b, "liquibase/add-column.yaml");
            b.exec("UPDATE item SET qty = qty + 2 WHERE id = 1");
            a.awaitSynced();
            b.awaitSynced();
            cluster.awaitConverged("SELECT id, name, qty, note, tag FROM item ORDER BY id", a, b);
            assertEquals(3, ((Number) cluster.pgRows("SELECT qty FROM item WHERE id = 1").get(0).get("qty")).intValue());
        }
    }
}
