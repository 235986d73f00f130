package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.PostgresFixture;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.relay.Relay;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static io.syncsqlite.it.support.Json.update;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A database installed by the version that kept {@code row_clock.pk} as jsonb (its install script, kept
 * verbatim as a test resource, and the triggers it created) is converted by this version's first start:
 * clock rows keep their meaning (tombstones and column clocks still decide merges, numeric keys of any
 * scale find their clock), the conversion waits for earlier relays to be gone, and an earlier relay cannot
 * start on the converted database.
 */
class ClockKeyUpgradeTest {

    /** The commit trigger's WHEN clause as the earlier version created it (SchemaInstaller.FIRST_WRITE). */
    private static final String FIRST_WRITE = "CASE WHEN coalesce(current_setting('syncsqlite.queued', true), '') = ''"
            + " THEN set_config('syncsqlite.queued', '1', true) = '1' ELSE false END";

    @Test
    void aDatabaseWithJsonbClockKeysIsConvertedAndKeepsItsClocks() throws Exception {
        String url = PostgresFixture.server().newDatabase("clockkey");
        RelayFixture f = RelayFixture.on(url, List.of());
        f.execute("CREATE TABLE item (id int PRIMARY KEY, name text, qty int)",
                "CREATE TABLE price (id numeric PRIMARY KEY, label text)");
        installEarlierVersion(f, "item", "price");

        // Direct writes under the earlier version: a column clock, a tombstone, numeric keys with trailing zeros.
        f.execute("INSERT INTO item VALUES (1, 'a', 1), (2, 'b', 2)", "UPDATE item SET name = 'a2' WHERE id = 1",
                "DELETE FROM item WHERE id = 2",
                "INSERT INTO price VALUES (1.50, 'x'), (2.0, 'y')", "DELETE FROM price WHERE id = 1.5");
        assertEquals("jsonb", f.query("SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
                + " WHERE attrelid = 'syncsqlite.row_clock'::regclass AND attname = 'pk'").get(0).get(0));
        assertEquals(List.of(List.of("item", "{\"id\": 1}"), List.of("item", "{\"id\": 2}"),
                List.of("price", "{\"id\": 1.50}"), List.of("price", "{\"id\": 2.0}")),
                f.query("SELECT tbl, pk::text FROM syncsqlite.row_clock ORDER BY 1, 2"), "the earlier version's clocks");
        long nameClock = f.queryLong("SELECT (cols -> 'name' ->> 0)::bigint FROM syncsqlite.row_clock"
                + " WHERE tbl = 'item' AND pk = '{\"id\": 1}'");

        // A relay of the earlier version still connected: this version does not convert under it.
        try (Connection earlier = connect(url, "syncsqlite-relay")) {
            IllegalStateException e = assertThrows(IllegalStateException.class, f::startRelay);
            SQLException cause = (SQLException) e.getCause();
            assertEquals("55006", cause.getSQLState());
            assertTrue(cause.getMessage().contains("stop them first"), cause.getMessage());
            assertTrue(cause.getMessage().contains("syncsqlite-relay"), cause.getMessage());
        }
        assertEquals("jsonb", f.query("SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
                + " WHERE attrelid = 'syncsqlite.row_clock'::regclass AND attname = 'pk'").get(0).get(0), "nothing converted");

        try (Relay relay = f.startRelay()) {
            assertEquals(List.of("text", "\"C\""), f.query("SELECT format_type(atttypid, atttypmod), attcollation::regcollation::text"
                    + " FROM pg_attribute WHERE attrelid = 'syncsqlite.row_clock'::regclass AND attname = 'pk'").get(0));
            assertEquals(List.of(List.of("item", "{\"id\": 1}"), List.of("item", "{\"id\": 2}"),
                    List.of("price", "{\"id\": 1.5}"), List.of("price", "{\"id\": 2}")),
                    f.query("SELECT tbl, pk FROM syncsqlite.row_clock ORDER BY 1, 2"), "keys as text, numbers trimmed");
            assertEquals(List.of(List.of("capture_rows", "10")), f.query("SELECT p.proname, count(*) FROM pg_trigger AS t"
                    + " JOIN pg_proc AS p ON p.oid = t.tgfoid WHERE t.tgname LIKE 'syncsqlite_capture%' GROUP BY 1"));

            long hour = 3_600_000;
            long beforeDelete = Hlc.ofMillis(System.currentTimeMillis() - hour);
            TestClient client = TestClient.connect(relay.uri());
            try {
                client.hello("upgrade-client", 0);
                // Older than the tombstones: both rows stay deleted (1.500 is the key deleted as 1.50).
                client.push(tx(1, beforeDelete, insert("item", obj("id", 2), obj("name", "old", "qty", 9)),
                        insert("price", obj("id", new BigDecimal("1.500")), obj("label", "old"))));
                client.awaitAck(1);
                assertEquals(0, f.queryLong("SELECT count(*) FROM item WHERE id = 2"));
                assertEquals(0, f.queryLong("SELECT count(*) FROM price WHERE id = 1.5"));
                // The name's column clock is newer than this update, qty's (the row's creation) is older.
                long between = Math.max(beforeDelete, Hlc.ofMillis(Hlc.unpack(nameClock).millis() - 1));
                assertTrue(between < nameClock);
                client.push(tx(2, between, update("item", obj("id", 1), obj("name", "lost"))));
                client.awaitAck(2);
                assertEquals(List.of(List.of("a2", "1")), f.query("SELECT name, qty FROM item WHERE id = 1"));
                client.push(tx(3, Hlc.ofMillis(System.currentTimeMillis() + 1000), update("item", obj("id", 1),
                        obj("qty", 5)), update("price", obj("id", new BigDecimal("2.00")), obj("label", "won"))));
                client.awaitAck(3);
                assertEquals(List.of(List.of("a2", "5")), f.query("SELECT name, qty FROM item WHERE id = 1"));
            } finally {
                client.close();
            }
            assertEquals("won", f.query("SELECT label FROM price WHERE id = 2").get(0).get(0));
            // A direct write of a numeric key in another scale finds the same clock row.
            f.execute("UPDATE price SET label = 'z' WHERE id = 2.000");
            assertEquals(List.of(List.of("{\"id\": 1.5}", "f"), List.of("{\"id\": 2}", "t")),
                    f.query("SELECT pk, alive FROM syncsqlite.row_clock WHERE tbl = 'price' ORDER BY 1"));

            // An earlier relay's install now fails at once, before it could serve anyone; the database is unchanged.
            try (Connection c = connect(url, "syncsqlite-relay")) {
                c.setAutoCommit(false);
                SQLException e = assertThrows(SQLException.class, () -> {
                    try (Statement st = c.createStatement()) {
                        st.execute(earlierScript());
                    }
                });
                assertEquals("42P13", e.getSQLState(), e.getMessage());
                c.rollback();
            }
            f.execute("INSERT INTO item VALUES (3, 'c', 3)");
            assertEquals(1, f.queryLong("SELECT count(*) FROM syncsqlite.row_clock WHERE tbl = 'item' AND pk = '{\"id\": 3}'"));
        }
    }

    /** What the earlier version's relay left in a database: its schema script and its triggers on each table. */
    static void installEarlierVersion(RelayFixture f, String... tables) throws IOException {
        f.execute(earlierScript(), "SELECT syncsqlite.commit_mark()");
        for (String t : tables) {
            f.execute("CREATE TRIGGER syncsqlite_capture_insert AFTER INSERT ON public." + t
                            + " REFERENCING NEW TABLE AS syncsqlite_new FOR EACH STATEMENT EXECUTE FUNCTION syncsqlite.capture('id')",
                    "CREATE TRIGGER syncsqlite_capture_update AFTER UPDATE ON public." + t
                            + " REFERENCING OLD TABLE AS syncsqlite_old NEW TABLE AS syncsqlite_new"
                            + " FOR EACH STATEMENT EXECUTE FUNCTION syncsqlite.capture('id')",
                    "CREATE TRIGGER syncsqlite_capture_delete AFTER DELETE ON public." + t
                            + " REFERENCING OLD TABLE AS syncsqlite_old FOR EACH STATEMENT EXECUTE FUNCTION syncsqlite.capture('id')",
                    "CREATE CONSTRAINT TRIGGER syncsqlite_commit AFTER INSERT OR UPDATE OR DELETE ON public." + t
                            + " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (" + FIRST_WRITE + ")"
                            + " EXECUTE FUNCTION syncsqlite.commit_mark_trigger()");
        }
    }

    /** The earlier version's install.sql (of commit 7cc5341), the last with jsonb clock keys. */
    private static String earlierScript() throws IOException {
        try (InputStream in = ClockKeyUpgradeTest.class.getResourceAsStream("install-jsonb-keys.sql")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static Connection connect(String url, String applicationName) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", PostgresFixture.server().user());
        if (!PostgresFixture.server().password().isEmpty()) {
            p.setProperty("password", PostgresFixture.server().password());
        }
        p.setProperty("ApplicationName", applicationName);
        return DriverManager.getConnection(url, p);
    }
}
