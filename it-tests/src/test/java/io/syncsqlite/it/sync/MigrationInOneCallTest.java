package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Statement;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The usual migration, "add a column, then fill it", run by the application in one JDBC call (several statements
 * through {@code executeUpdate}, or a batch) while PostgreSQL already has the column: the values it writes reach
 * PostgreSQL and the other clients. Before, the capture triggers were rewritten for the new column only after the
 * call, and the values written within it stayed on the writer.
 */
class MigrationInOneCallTest {

    @TempDir
    Path dir;

    @Test
    void aColumnAddedAndFilledInOneCallSyncsItsValues() throws Exception {
        try (Cluster cluster = Cluster.start("migrate", dir, "CREATE TABLE note (id text PRIMARY KEY, body text)")) {
            Client a = cluster.client("a", "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT)");
            Client b = cluster.client("b", "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT)");
            a.exec("INSERT INTO note (id, body) VALUES ('n1', 'one')");
            a.exec("INSERT INTO note (id, body) VALUES ('n2', 'two')");
            a.awaitSynced();
            cluster.pg("ALTER TABLE note ADD COLUMN tag text", "ALTER TABLE note ADD COLUMN rank integer");
            b.script("ALTER TABLE note ADD COLUMN tag TEXT", "ALTER TABLE note ADD COLUMN rank INTEGER");

            try (Statement st = a.connection().createStatement()) {
                st.executeUpdate("ALTER TABLE note ADD COLUMN tag TEXT; UPDATE note SET tag = 'tag of ' || id;"
                        + " INSERT INTO note (id, body, tag) VALUES ('n3', 'three', 'new')");
                st.addBatch("ALTER TABLE note ADD COLUMN rank INTEGER");
                st.addBatch("UPDATE note SET rank = length(body)");
                st.executeBatch();
            }
            a.awaitSynced();

            List<Map<String, Object>> pg = cluster.pgRows("SELECT id, tag, rank FROM note ORDER BY id");
            assertEquals(List.of("tag of n1", "tag of n2", "new"), pg.stream().map(r -> r.get("tag")).toList());
            assertEquals(List.of(3, 3, 5), pg.stream().map(r -> ((Number) r.get("rank")).intValue()).toList());
            cluster.awaitConverged("SELECT id, body, tag, rank FROM note ORDER BY id", a, b);
        }
    }
}
