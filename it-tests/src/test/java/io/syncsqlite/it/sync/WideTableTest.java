package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Tables wider than one SQLite function call takes (sqlite-jdbc's SQLite allows 100 arguments, and a row
 * image built by {@code json_object} needs two per column): wide JPA entities exist, and such a table could
 * not even be created through the driver. Rows and column-level updates must sync both ways, and an update
 * of a few columns must send only those (a concurrent update of other columns survives).
 */
class WideTableTest {

    private static final int WIDTH = 120;

    @TempDir
    Path dir;

    private static String ddl(String keyType, String colType) {
        StringBuilder sql = new StringBuilder("CREATE TABLE wide (id " + keyType + " PRIMARY KEY");
        for (int i = 1; i < WIDTH; i++) {
            sql.append(", c").append(i).append(' ').append(colType);
        }
        return sql.append(")").toString();
    }

    @Test
    void aTableOfMoreColumnsThanAFunctionTakesSyncsColumnByColumn() throws Exception {
        try (Cluster c = Cluster.start("wide_table", dir, ddl("BIGINT", "TEXT"))) {
            Client a = c.client("a", ddl("INTEGER", "TEXT"));
            Client b = c.client("b", ddl("INTEGER", "TEXT"));
            StringBuilder insert = new StringBuilder("INSERT INTO wide VALUES (1");
            for (int i = 1; i < WIDTH; i++) {
                insert.append(", 'v").append(i).append('\'');
            }
            a.exec(insert.append(")").toString());
            a.awaitSynced();
            String last = "c" + (WIDTH - 1);
            String view = "SELECT id, c1, c60, " + last + " FROM wide ORDER BY id";
            c.awaitConverged(view, a, b);
            assertEquals(List.of(Map.of("id", 1L, "c1", "v1", "c60", "v60", last, "v" + (WIDTH - 1))), b.rows(view));

            // a offline changes the last column; b and psql change others: all three survive
            a.offline();
            a.exec("UPDATE wide SET " + last + " = 'from a' WHERE id = 1");
            b.exec("UPDATE wide SET c60 = 'from b' WHERE id = 1");
            b.awaitSynced();
            c.pg("UPDATE wide SET c1 = 'from psql' WHERE id = 1");
            a.online();
            a.awaitSynced();
            c.awaitConverged(view, a, b);
            assertEquals(List.of(Map.of("id", 1L, "c1", "from psql", "c60", "from b", last, "from a")), a.rows(view));
            assertEquals(List.of(Map.of("c1", "from psql", "c60", "from b", last, "from a")),
                    c.pgRows("SELECT c1, c60, " + last + " FROM wide"));
        }
    }
}
