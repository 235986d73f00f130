package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.Message;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.sql.Date;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Time;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Dates, times and UUIDs as sqlite-jdbc stores them (epoch milliseconds, 16-byte BLOBs), synced with
 * PostgreSQL's {@code date}, {@code time}, {@code timestamp}, {@code timestamptz} and {@code uuid} columns
 * through plain JDBC (JpaReviewTest does it through Hibernate): the values PostgreSQL holds are the ones
 * the application meant, and another client reads back what the first one wrote.
 */
class DateUuidMappingTest {

    static final String PG = "CREATE TABLE ev (id int PRIMARY KEY, d date, t time, ts timestamp, tz timestamptz,"
            + " u uuid, ms bigint)";
    static final String LOCAL = "CREATE TABLE ev (id INTEGER PRIMARY KEY, d DATE, t TIME, ts TIMESTAMP, tz DATETIME,"
            + " u BLOB, ms TIMESTAMP)";

    @TempDir
    Path dir;

    private static byte[] bytes(UUID u) {
        return ByteBuffer.allocate(16).putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits()).array();
    }

    @Test
    void sqliteJdbcDatesAndUuidsReachPostgresAndTheOtherClientAsWritten() throws Exception {
        UUID id = UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        Date day = Date.valueOf(LocalDate.of(2026, 3, 4));
        Time time = Time.valueOf(LocalTime.of(5, 6, 7));
        Timestamp ts = Timestamp.valueOf(LocalDateTime.of(2026, 3, 4, 5, 6, 7, 123_000_000));
        Timestamp tz = Timestamp.from(Instant.parse("2026-03-04T05:06:07.123Z"));
        try (Cluster cl = Cluster.start("dates_jdbc", dir, PG)) {
            Client a = cl.client("a", LOCAL);
            Client b = cl.client("b", LOCAL);
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO ev VALUES (1, ?, ?, ?, ?, ?, ?)")) {
                ps.setDate(1, day);
                ps.setTime(2, time);
                ps.setTimestamp(3, ts);
                ps.setTimestamp(4, tz);
                ps.setBytes(5, bytes(id));
                ps.setLong(6, 1_772_600_767_123L); // PostgreSQL keeps this one as a number (bigint)
                ps.executeUpdate();
            }
            a.awaitSynced();
            assertEquals(List.of(), a.node().status().schemaDifferences(), "a BLOB for a uuid fits: it is converted");
            List<Map<String, Object>> pg = cl.pgRows("SELECT d = date '2026-03-04' AS d, t = time '05:06:07' AS t,"
                    + " ts = timestamp '2026-03-04 05:06:07.123' AS ts, tz = timestamptz '2026-03-04 05:06:07.123+00' AS tz,"
                    + " u::text AS u, ms FROM ev");
            assertEquals(List.of(Map.of("d", 1L, "t", 1L, "ts", 1L, "tz", 1L, "u", id.toString(),
                    "ms", 1_772_600_767_123L)), pg, "a's row in PostgreSQL; status " + a.node().status());
            Cluster.eventually(() -> b.rows("SELECT id FROM ev"), r -> r.size() == 1);
            for (Client c : List.of(a, b)) {
                try (ResultSet rs = c.connection().createStatement().executeQuery("SELECT * FROM ev")) {
                    rs.next();
                    assertEquals(day, rs.getDate("d"), c.name());
                    assertEquals(time, rs.getTime("t"), c.name());
                    assertEquals(ts, rs.getTimestamp("ts"), c.name());
                    assertEquals(tz, rs.getTimestamp("tz"), c.name());
                    assertArrayEquals(bytes(id), rs.getBytes("u"), c.name());
                    assertEquals(1_772_600_767_123L, rs.getLong("ms"), c.name());
                }
            }
            // Written in psql, read back by sqlite-jdbc on both; the row is found by its 16-byte key.
            cl.pg("UPDATE ev SET d = '2027-01-02', tz = '2027-01-02 03:04:05.5+00' WHERE u = '" + id + "'");
            for (Client c : List.of(a, b)) {
                Cluster.eventually(() -> c.rows("SELECT d FROM ev"),
                        r -> Long.valueOf(Date.valueOf(LocalDate.of(2027, 1, 2)).getTime()).equals(r.get(0).get("d")));
                try (PreparedStatement ps = c.connection().prepareStatement("SELECT tz FROM ev WHERE u = ?")) {
                    ps.setBytes(1, bytes(id));
                    try (ResultSet rs = ps.executeQuery()) {
                        assertTrue(rs.next(), c.name());
                        assertEquals(Timestamp.from(Instant.parse("2027-01-02T03:04:05.500Z")), rs.getTimestamp(1), c.name());
                    }
                }
            }
        }
    }

    /** Clients of earlier versions ask for the schema with version 1 and never get a message they cannot read. */
    @Test
    void columnTypesGoOnlyToClientsThatAskForThem() throws Exception {
        try (RelayFixture f = RelayFixture.start("dates_proto", PG)) {
            try (TestClient old = TestClient.connect(f.relay().uri())) {
                old.hello("old", 0);
                old.send(new Message.SchemaRequest(1));
                old.awaitMessage(Message.Schema.class);
                assertTrue(old.messages().stream().noneMatch(m -> m instanceof Message.ColumnTypes), old.messages().toString());
            }
            try (TestClient now = TestClient.connect(f.relay().uri())) {
                now.hello("now", 0);
                now.send(new Message.SchemaRequest(Message.COLUMN_TYPES_VERSION));
                now.awaitMessage(Message.Schema.class);
                Message.ColumnTypes types = now.awaitMessage(Message.ColumnTypes.class);
                assertEquals(Map.of("id", "int4", "d", "date", "t", "time", "ts", "timestamp", "tz", "timestamptz",
                        "u", "uuid", "ms", "int8"), types.tables().get("ev"));
                List<Message> order = now.messages().stream()
                        .filter(m -> m instanceof Message.ColumnTypes || m instanceof Message.Schema).toList();
                assertInstanceOf(Message.ColumnTypes.class, order.get(0), "the types come before the schema");
            }
        }
    }
}
