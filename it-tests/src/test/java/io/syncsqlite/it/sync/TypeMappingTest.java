package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.math.BigDecimal;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How values of each PostgreSQL type round-trip (issue 5, "Schema"), both ways: written through pgjdbc in
 * PostgreSQL and read through JDBC on a client, and written through JDBC on a client and read in
 * PostgreSQL. The SQLite side uses the declared types an application (or Hibernate) would; what each
 * type becomes locally is asserted, so this test is also the mapping's documentation.
 */
class TypeMappingTest {

    private static final String PG = "CREATE TABLE typed (id int PRIMARY KEY, i2 smallint, i4 integer, i8 bigint,"
            + " b boolean, n numeric(12,3), r real, d double precision, t text, vc varchar(20), u uuid,"
            + " js json, jb jsonb, by bytea, dt date, tm time, ts timestamp, tz timestamptz)";
    private static final String LOCAL = "CREATE TABLE typed (id INTEGER PRIMARY KEY, i2 SMALLINT, i4 INTEGER,"
            + " i8 BIGINT, b BOOLEAN, n NUMERIC(12,3), r REAL, d DOUBLE, t TEXT, vc VARCHAR(20), u TEXT,"
            + " js TEXT, jb TEXT, by BLOB, dt TEXT, tm TEXT, ts TEXT, tz TEXT)";

    @TempDir
    Path dir;

    @Test
    void postgresValuesArriveOnTheClientAsTheseSqliteValues() throws Exception {
        try (Cluster cluster = Cluster.start("types1", dir, PG)) {
            Client c = cluster.client("c", LOCAL);
            cluster.pg("INSERT INTO typed VALUES (1, -32768, 2147483647, 9007199254740993, true, 12345.678, 1.5,"
                    + " 2.25, 'text ✓', 'varchar', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}',"
                    + " '{\"b\": true}', '\\x00ff10', '2026-11-22', '13:45:30', '2026-11-22 13:45:30.123',"
                    + " '2026-11-22 13:45:30.123+00')");
            await().until(() -> !c.rows("SELECT id FROM typed").isEmpty());
            try (ResultSet rs = c.connection().createStatement().executeQuery("SELECT * FROM typed")) {
                rs.next();
                assertEquals(-32768, rs.getShort("i2"));
                assertEquals(2147483647, rs.getInt("i4"));
                assertEquals(9007199254740993L, rs.getLong("i8"), "64-bit integers keep every digit");
                assertEquals(true, rs.getBoolean("b"));
                assertEquals(new BigDecimal("12345.678"), rs.getBigDecimal("n").setScale(3));
                assertEquals(1.5f, rs.getFloat("r"));
                assertEquals(2.25, rs.getDouble("d"));
                assertEquals("text ✓", rs.getString("t"));
                assertEquals("varchar", rs.getString("vc"));
                assertEquals("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", rs.getString("u"));
                assertEquals(Map.of("a", java.util.List.of(1, 2)), json(rs.getString("js")));
                assertEquals(Map.of("b", true), json(rs.getString("jb")));
                assertArrayEquals(new byte[] {0, (byte) 0xff, 0x10}, rs.getBytes("by"), "bytea arrives as a BLOB");
                assertEquals("2026-11-22", rs.getString("dt"));
                assertEquals("13:45:30", rs.getString("tm"));
                assertEquals("2026-11-22T13:45:30.123", rs.getString("ts"), "timestamps arrive in ISO-8601 text");
                assertEquals("2026-11-22T13:45:30.123+00:00", rs.getString("tz"));
            }
        }
    }

    @Test
    void clientValuesLandInPostgresAsTheseValues() throws Exception {
        try (Cluster cluster = Cluster.start("types2", dir, PG)) {
            Client c = cluster.client("c", LOCAL);
            try (PreparedStatement ps = c.connection().prepareStatement("INSERT INTO typed VALUES"
                    + " (2, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                ps.setShort(1, (short) 7);
                ps.setInt(2, -5);
                ps.setLong(3, Long.MAX_VALUE);
                ps.setBoolean(4, false);
                ps.setBigDecimal(5, new BigDecimal("-0.125"));
                ps.setFloat(6, 0.5f);
                ps.setDouble(7, 1e-9);
                ps.setString(8, "línea");
                ps.setString(9, "v");
                ps.setString(10, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
                ps.setString(11, "[1,\"x\"]");
                ps.setString(12, "{\"k\":null}");
                ps.setBytes(13, new byte[] {1, 2, 3});
                ps.setString(14, "2026-01-31");
                ps.setString(15, "08:00:00");
                ps.setString(16, "2026-01-31 08:00:00");
                ps.setString(17, "2026-01-31T08:00:00Z");
                ps.executeUpdate();
            }
            c.awaitSynced();
            Map<String, Object> expected = new LinkedHashMap<>();
            expected.put("i2", "7");
            expected.put("i4", "-5");
            expected.put("i8", "9223372036854775807");
            expected.put("b", "false");
            expected.put("n", "-0.125");
            expected.put("r", "0.5");
            expected.put("d", "1e-09");
            expected.put("t", "línea");
            expected.put("vc", "v");
            expected.put("u", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
            expected.put("js", "[1, \"x\"]");
            expected.put("jb", "{\"k\": null}");
            expected.put("by", "\\x010203");
            expected.put("dt", "2026-01-31");
            expected.put("tm", "08:00:00");
            expected.put("ts", "2026-01-31 08:00:00");
            expected.put("tz", "2026-01-31 08:00:00+00");
            try (Connection pg = cluster.pg()) {
                pg.createStatement().execute("SET TIME ZONE 'UTC'");
                try (ResultSet rs = pg.createStatement().executeQuery("SELECT i2::text, i4::text,"
                         + " i8::text, b::text, n::text, r::text, d::text, t, vc, u::text, js::text, jb::text, by::text,"
                         + " dt::text, tm::text, ts::text, tz::text FROM typed WHERE id = 2")) {
                rs.next();
                Map<String, Object> actual = new LinkedHashMap<>();
                int i = 1;
                for (String k : expected.keySet()) {
                    actual.put(k, rs.getString(i++));
                }
                assertEquals(expected, actual);
                }
            }
        }
    }

    /**
     * SQLite keeps a REAL infinity; JSON has none. A client's went to PostgreSQL as {@code 9E+999}, which
     * float and numeric columns refused as out of range (the transaction was rejected and reverted), and
     * PostgreSQL's came back as the text {@code Infinity}.
     */
    @Test
    void infinitiesSyncBothWays() throws Exception {
        try (Cluster cluster = Cluster.start("infinity", dir,
                "CREATE TABLE m (id int PRIMARY KEY, r real, d double precision, n numeric)")) {
            String local = "CREATE TABLE m (id INTEGER PRIMARY KEY, r REAL, d DOUBLE, n NUMERIC)";
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO m VALUES (1, ?, ?, ?)")) {
                ps.setFloat(1, Float.NEGATIVE_INFINITY);
                ps.setDouble(2, Double.POSITIVE_INFINITY);
                ps.setDouble(3, Double.POSITIVE_INFINITY);
                ps.executeUpdate();
            }
            a.awaitSynced();
            try (Connection pg = cluster.pg();
                 ResultSet rs = pg.createStatement().executeQuery("SELECT r::text, d::text, n::text FROM m")) {
                assertTrue(rs.next(), "the row reached PostgreSQL (it was rejected as out of range)");
                assertEquals("-Infinity Infinity Infinity", rs.getString(1) + " " + rs.getString(2) + " " + rs.getString(3));
            }
            String infinite = "SELECT typeof(r) || ' ' || r || ' ' || typeof(d) || ' ' || d || ' ' || typeof(n) || ' ' || n AS v FROM m";
            await().until(() -> b.rows(infinite).size() == 1);
            assertEquals("real -Inf real Inf real Inf", b.rows(infinite).get(0).get("v"));
            assertEquals("real -Inf real Inf real Inf", a.rows(infinite).get(0).get("v"), "the writer after its echo");

            cluster.pg("UPDATE m SET d = '-Infinity', r = 'Infinity'");
            await().until(() -> b.rows(infinite).get(0).get("v").equals("real Inf real -Inf real Inf"));
            await().until(() -> a.rows(infinite).get(0).get("v").equals("real Inf real -Inf real Inf"));
        }
    }

    /** Columns named like the aliases of the relay's SQL (r, t, x, ...) must not break capture or apply. */
    @Test
    void columnsNamedLikeSqlAliasesSyncBothWays() throws Exception {
        String cols = "r text, t text, x text, n text, i text, k text, e text, s text, o text";
        try (Cluster cluster = Cluster.start("aliases", dir, "CREATE TABLE odd (id int PRIMARY KEY, " + cols + ")")) {
            Client c = cluster.client("c", "CREATE TABLE odd (id INTEGER PRIMARY KEY, " + cols.replace("text", "TEXT") + ")");
            cluster.pg("INSERT INTO odd VALUES (1, 'r', 't', 'x', 'n', 'i', 'k', 'e', 's', 'o')");
            c.exec("INSERT INTO odd VALUES (2, 'r2', 't2', 'x2', 'n2', 'i2', 'k2', 'e2', 's2', 'o2')");
            c.awaitSynced();
            cluster.pg("UPDATE odd SET r = 'changed' WHERE id = 2", "DELETE FROM odd WHERE id = 1");
            cluster.awaitConverged("SELECT * FROM odd ORDER BY id", c);
            assertEquals("changed", cluster.pgRows("SELECT r FROM odd WHERE id = 2").get(0).get("r"));
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> json(String text) throws Exception {
        return io.syncsqlite.protocol.MessageCodec.JSON.readValue(text, Map.class);
    }
}
