package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.UUID;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What docs/OPERATIONS.md says about other writers: a role with ordinary table privileges plus USAGE on
 * schema syncsqlite can write a synced table (the capture and commit-mark functions run as their owner,
 * so it needs no privilege on the syncsqlite tables), and its writes reach clients; without USAGE its
 * writes fail, naming the schema.
 */
class WriterPrivilegesTest {

    @Test
    void aRoleWithOnlyTablePrivilegesWritesASyncedTableAndClientsSeeIt() throws Exception {
        String role = "writer_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        try (RelayFixture f = RelayFixture.start("privs", "CREATE TABLE t (id int PRIMARY KEY, v text)")) {
            TestClient c = f.client("privs-node", 0);
            f.execute("CREATE ROLE " + role + " NOLOGIN",
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON t TO " + role);
            try {
                try (Connection conn = f.connection(); Statement s = conn.createStatement()) {
                    s.execute("SET ROLE " + role);
                    SQLException denied = assertThrows(SQLException.class, () -> s.execute("INSERT INTO t VALUES (9, 'x')"));
                    assertTrue(denied.getMessage().contains("permission denied for schema syncsqlite"), denied.getMessage());
                }
                f.execute("GRANT USAGE ON SCHEMA syncsqlite TO " + role);
                try (Connection conn = f.connection(); Statement s = conn.createStatement()) {
                    s.execute("SET ROLE " + role);
                    s.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')");
                    s.execute("UPDATE t SET v = 'c' WHERE id = 1");
                    s.execute("DELETE FROM t WHERE id = 2");
                    // The install's helpers are the relay's alone (they run DDL as their caller).
                    SQLException helper = assertThrows(SQLException.class,
                            () -> s.execute("SELECT syncsqlite.add_column('t', 'extra', 'text')"));
                    assertTrue(helper.getMessage().contains("permission denied for function add_column"),
                            helper.getMessage()); // not only "must be owner of table t", which the ALTER would say
                }
                await().atMost(Duration.ofSeconds(20)).until(() -> c.entries().size() >= 4);
                assertEquals(0, f.queryLong("SELECT count(*) FROM t WHERE id = 2"));
            } finally {
                c.close();
                f.execute("DROP OWNED BY " + role, "DROP ROLE " + role);
            }
        }
    }
}
