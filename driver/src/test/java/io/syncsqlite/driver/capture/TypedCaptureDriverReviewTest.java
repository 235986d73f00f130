package io.syncsqlite.driver.capture;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;

import static io.syncsqlite.driver.capture.Sql.count;
import static io.syncsqlite.driver.capture.Sql.exec;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * From the review of typed capture, driver level (real SQLite files, no relay). Typed capture first copied
 * bytes into the outbox from any column, where {@code json_object} had refused bytes in a column not
 * declared BLOB ({@code BINARY(16)}, {@code VARBINARY}, {@code UUID}: NUMERIC affinity). Such a row could
 * then be inserted but not deleted or re-keyed (deleted keys are still JSON), and end to end its bytes came
 * back as text or its key as a second row (it-tests TypedCaptureReviewTest). The triggers now refuse the
 * bytes, with a message, for every statement, as before.
 */
class TypedCaptureDriverReviewTest {

    @TempDir
    Path dir;

    private static final byte[] KEY = {0x0A, (byte) 0xBC, 0x12, (byte) 0xEF};

    private Connection open() throws SQLException {
        return DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("app.db") + "?sync.lingerMs=0");
    }

    @Test
    void bytesInAColumnNotDeclaredBlobAreRefusedWithAMessage() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE tag (id BINARY(16) PRIMARY KEY, name TEXT, n INTEGER)",
                    "INSERT INTO tag (id, name, n) VALUES ('k', 'a', 1)");
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO tag (id, name) VALUES (?, 'b')")) {
                ps.setBytes(1, KEY);
                SQLException e = assertThrows(SQLException.class, ps::executeUpdate);
                assertTrue(e.getMessage().contains("column tag.id holds bytes, which sync only in a column declared BLOB"),
                        e.getMessage());
            }
            for (String column : List.of("name", "n")) {
                try (PreparedStatement ps = c.prepareStatement("UPDATE tag SET " + column + " = ? WHERE id = 'k'")) {
                    ps.setBytes(1, KEY);
                    SQLException e = assertThrows(SQLException.class, ps::executeUpdate);
                    assertTrue(e.getMessage().contains("column tag." + column + " holds bytes"), e.getMessage());
                }
            }
            assertEquals(1, count(c, "SELECT count(*) FROM tag"));
            assertEquals(1, count(c, "SELECT count(*) FROM _sync_outbox"), "only the first insert was captured");
            assertEquals(1, count(c, "SELECT count(*) FROM tag WHERE name = 'a' AND n = 1"), "nothing half-written");
        }
    }

    @Test
    void aTableTooWideForTypedCaptureRefusesTheBytesWithTheSameMessage() throws SQLException {
        try (Connection c = open()) {
            StringBuilder ddl = new StringBuilder("CREATE TABLE wide (id TEXT PRIMARY KEY");
            for (int i = 1; i <= Outbox.VALUE_COLUMNS; i++) {
                ddl.append(", c").append(i).append(" TEXT");
            }
            exec(c, ddl.append(")").toString());
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO wide (id, c7) VALUES ('k', ?)")) {
                ps.setBytes(1, KEY);
                SQLException e = assertThrows(SQLException.class, ps::executeUpdate);
                assertTrue(e.getMessage().contains("column wide.c7 holds bytes, which sync only in a column declared BLOB"),
                        e.getMessage());
            }
            assertEquals(0, count(c, "SELECT count(*) FROM wide"));
        }
    }

    @Test
    void existingBytesInAColumnNotDeclaredBlobStopTheTableFromBeingSyncedWithAMessage() throws SQLException {
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"))) {
            exec(plain, "CREATE TABLE doc (id TEXT PRIMARY KEY, body TEXT, raw BLOB)",
                    "INSERT INTO doc VALUES ('a', 'text', x'00'), ('b', x'FF', NULL)");
        }
        SQLException e = assertThrows(SQLException.class, this::open);
        assertEquals("SY001", e.getSQLState());
        assertTrue(e.getMessage().contains("column doc.body holds bytes"), e.getMessage());
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"))) {
            exec(plain, "UPDATE doc SET body = CAST(body AS TEXT) WHERE id = 'b'");
        }
        try (Connection c = open()) {
            assertEquals(2, count(c, "SELECT count(*) FROM _sync_outbox WHERE op = 1"), "both rows backfilled");
        }
    }

    @Test
    void bytesInABlobKeyCanBeInsertedRekeyedAndDeleted() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE tag (id BLOB PRIMARY KEY, name TEXT)");
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO tag (id, name) VALUES (?, 'a')")) {
                ps.setBytes(1, KEY);
                ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement("UPDATE tag SET id = x'01' WHERE id = ?")) {
                ps.setBytes(1, KEY);
                assertEquals(1, ps.executeUpdate());
            }
            exec(c, "DELETE FROM tag WHERE id = x'01'");
            assertEquals(List.of(
                    "1:{\"id\":\"\\\\x0ABC12EF\"}:{\"id\":\"\\\\x0ABC12EF\",\"name\":\"a\"}:null",
                    "3:{\"id\":\"\\\\x0ABC12EF\"}:null:null",
                    "1:{\"id\":\"\\\\x01\"}:{\"id\":\"\\\\x01\",\"name\":\"a\"}:null",
                    "3:{\"id\":\"\\\\x01\"}:null:null"), CaptureTest.outbox(c));
        }
    }
}
