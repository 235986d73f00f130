package io.syncsqlite.driver.capture;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Review of typed capture (b108577), driver level: real SQLite files through {@code jdbc:syncsqlite:}
 * without a relay.
 */
class TypedCaptureDriverReviewTest {

    @TempDir
    Path dir;

    private Connection open() throws SQLException {
        return DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("app.db") + "?sync.lingerMs=0");
    }

    private static void exec(Connection c, String... sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            for (String s : sql) {
                st.execute(s);
            }
        }
    }

    private static final byte[] KEY = {0x0A, (byte) 0xBC, 0x12, (byte) 0xEF};

    /**
     * A key column whose declared type does not have BLOB affinity ({@code BINARY(16)}, {@code UUID},
     * {@code VARBINARY}, a STRICT {@code ANY}: all NUMERIC) holding bytes. The JSON triggers refused such a
     * row outright ({@code json_object}: "JSON cannot hold BLOB values"), for every operation. Typed capture
     * accepts the insert (v&lt;i&gt; takes any storage class, OutboxDecoder renders any blob as \x...), but
     * deleted keys and key changes are still captured with {@code json_object} and the BLOB CASE only for
     * BLOB-affinity columns: the row the application could insert can then never be deleted or re-keyed.
     * On the parent commit the insert is refused, and this test returns there (nothing half-works).
     */
    @Test
    void aRowWhoseInsertIsAcceptedCanBeDeleted() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE tag (id BINARY(16) PRIMARY KEY, name TEXT)");
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO tag (id, name) VALUES (?, 'a')")) {
                ps.setBytes(1, KEY);
                ps.executeUpdate();
            } catch (SQLException refused) {
                // the JSON capture (parent commit) refuses the blob up front: consistent
                return;
            }
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM tag WHERE id = ?")) {
                ps.setBytes(1, KEY);
                assertDoesNotThrow(() -> ps.executeUpdate(), "a row typed capture let in cannot be deleted");
            }
            try (Statement st = c.createStatement(); var rs = st.executeQuery("SELECT count(*) FROM tag")) {
                rs.next();
                assertEquals(0, rs.getInt(1));
            }
        }
    }

    /** The same row's key cannot be changed either (key trigger: JSON delete of the old key). */
    @Test
    void aRowWhoseInsertIsAcceptedCanBeRekeyed() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE tag (id BINARY(16) PRIMARY KEY, name TEXT)");
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO tag (id, name) VALUES (?, 'a')")) {
                ps.setBytes(1, KEY);
                ps.executeUpdate();
            } catch (SQLException refused) {
                return; // parent commit: refused up front
            }
            try (PreparedStatement ps = c.prepareStatement("UPDATE tag SET id = x'01' WHERE id = ?")) {
                ps.setBytes(1, KEY);
                assertDoesNotThrow(() -> ps.executeUpdate(), "a row typed capture let in cannot change its key");
            }
        }
    }
}
