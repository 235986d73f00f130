package io.syncsqlite.driver.capture;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncsqlite.protocol.MessageCodec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Typed capture must hand the relay what JSON capture did: each value as {@code json_object} renders it in
 * this SQLite, parsed by the shared mapper; a REAL as the same double in no more digits. Checked against
 * SQLite itself (plain sqlite-jdbc, no capture), on values chosen to hit the formatting edges and on random
 * doubles of every exponent.
 */
class OutboxDecoderTest {

    @TempDir
    Path dir;
    private Connection conn;

    @BeforeEach
    void open() throws SQLException {
        conn = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("values.db"));
        try (Statement st = conn.createStatement()) {
            st.execute("CREATE TABLE v (i INTEGER PRIMARY KEY, x)");
        }
    }

    @AfterEach
    void close() throws SQLException {
        conn.close();
    }

    /** Stores each value untyped, then compares the decoder's tree with json_object's parsed text, value by value. */
    private void assertSameAsJsonObject(List<Object> values) throws Exception {
        try (Statement st = conn.createStatement()) {
            st.execute("DELETE FROM v");
        }
        conn.setAutoCommit(false);
        try (PreparedStatement ps = conn.prepareStatement("INSERT INTO v (i, x) VALUES (?, ?)")) {
            for (int i = 0; i < values.size(); i++) {
                ps.setInt(1, i);
                ps.setObject(2, values.get(i));
                ps.executeUpdate();
            }
        }
        conn.commit();
        conn.setAutoCommit(true);
        int checked = 0;
        try (Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("SELECT x, json_object('x', CASE WHEN typeof(x) = 'blob'"
                     + " THEN '\\x' || hex(x) ELSE x END), typeof(x) FROM v ORDER BY i")) {
            while (rs.next()) {
                JsonNode expected = MessageCodec.JSON.readTree(rs.getString(2)).get("x");
                JsonNode actual = OutboxDecoder.node(rs.getObject(1));
                String context = rs.getString(3) + " " + rs.getObject(1) + ": json_object gave " + rs.getString(2);
                if (rs.getString(3).equals("real") && Double.isFinite(rs.getDouble(1))) {
                    // the same double, in the shortest digits that read back as it (SQLite's may run longer)
                    assertTrue(actual.isBigDecimal(), context);
                    assertEquals(expected.doubleValue(), actual.doubleValue(), context);
                    assertTrue(rs.getDouble(1) == Double.parseDouble(actual.toString()), context); // -0.0 is 0, as in SQLite's JSON
                    assertTrue(actual.decimalValue().precision() <= expected.decimalValue().precision(), context);
                } else {
                    assertEquals(expected, actual, context);
                    assertEquals(expected.toString(), actual.toString(), context);
                }
                checked++;
            }
        }
        assertEquals(values.size(), checked);
    }

    @Test
    void edgeValuesComeOutAsJsonObjectWritesThem() throws Exception {
        List<Object> values = new ArrayList<>(List.of(0, -1, 1, Integer.MAX_VALUE, Integer.MIN_VALUE,
                (long) Integer.MAX_VALUE + 1, (long) Integer.MIN_VALUE - 1, Long.MAX_VALUE, Long.MIN_VALUE,
                0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1.5, 100.0, 1e15, 1e16, 1e17, 123456789012345678.0, 1.0 / 3, 2.0 / 3,
                0.30000000000000004, 2e-7, 1e-5, 1e-4, 1e300, -1e300, Double.MIN_VALUE, Double.MAX_VALUE,
                Double.MIN_NORMAL, 1234567890123455.0, 9007199254740993.0, Double.POSITIVE_INFINITY,
                Double.NEGATIVE_INFINITY, "", "text", "\\x41", "quote \" and \\ backslash", "ünïcödé ☃ 𝄞",
                "line\nbreak\ttab\u0001", new byte[0], new byte[]{0, 1, (byte) 0xAB, (byte) 0xFF}));
        values.add(null);
        assertSameAsJsonObject(values);
    }

    @Test
    void randomDoublesOfEveryExponentComeOutWithSqlitesDigits() throws Exception {
        Random random = new Random(20261205);
        List<Object> values = new ArrayList<>();
        while (values.size() < 20_000) {
            double d = Double.longBitsToDouble(random.nextLong());
            if (!Double.isNaN(d)) {
                values.add(d);
            }
        }
        for (int i = 0; i < 10_000; i++) {
            // short decimals, as applications store prices and measurements
            values.add(Math.round(random.nextDouble() * 1e6) / 100.0);
        }
        assertSameAsJsonObject(values);
    }
}
