package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sqlite.SQLiteConnection;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code getGeneratedKeys()} through the driver, which reads SQLite's last_insert_rowid() when asked rather
 * than after every INSERT (see {@link GeneratedKeys}), gives what sqlite-jdbc gives: the same script runs
 * against a plain {@code jdbc:sqlite:} file and a synced {@code jdbc:syncsqlite:} one, and every key read
 * must agree, whatever ran on the connection between the INSERT and the read.
 */
class GeneratedKeysTest {

    @TempDir
    Path dir;

    private static final String DDL = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE)";
    private static final String DDL2 = "CREATE TABLE tag (id INTEGER PRIMARY KEY, label TEXT)";

    @Test
    void keysReadLaterAreTheKeysSqliteJdbcReadsAtOnce() throws Exception {
        List<String> raw;
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("raw.db"))) {
            raw = script(c);
        }
        List<String> synced;
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("synced.db") + "?sync.lingerMs=0")) {
            synced = script(c);
            assertTrue(c.unwrap(SQLiteConnection.class).getConnectionConfig().isGetGeneratedKeys(),
                    "sqlite-jdbc's own setting is left as it was");
        }
        assertEquals(raw, synced);
        assertTrue(raw.size() > 15, "the script read keys: " + raw);
    }

    /** Runs the same operations on either driver and returns every key read, in order. */
    private static List<String> script(Connection c) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement()) {
            st.execute(DDL);
            st.execute(DDL2);
            // The tables are created after the connection opened: the synced file captures them from here on.
        }
        try (PreparedStatement item = c.prepareStatement("INSERT INTO item (name) VALUES (?)");
             PreparedStatement tag = c.prepareStatement("INSERT INTO tag (label) VALUES (?)");
             PreparedStatement read = c.prepareStatement("SELECT count(*) FROM item");
             Statement st = c.createStatement()) {
            // Not asked for with RETURN_GENERATED_KEYS: sqlite-jdbc gives them anyway, and applications rely on it.
            item.setString(1, "a");
            item.executeUpdate();
            out.add("after one insert " + keys(item));
            out.add("read twice " + keys(item));
            item.setString(1, "b");
            item.executeUpdate();
            item.setString(1, "c");
            item.executeUpdate();
            out.add("after two more " + keys(item));

            // Another statement inserts before the first one's keys are read.
            item.setString(1, "d");
            item.executeUpdate();
            tag.setString(1, "t1");
            tag.executeUpdate();
            tag.setString(1, "t2");
            tag.executeUpdate();
            out.add("item after tag inserts " + keys(item));
            out.add("tag " + keys(tag));

            // A query and a batch in between.
            item.setString(1, "e");
            item.executeUpdate();
            try (ResultSet rs = read.executeQuery()) {
                rs.next();
                out.add("count " + rs.getLong(1));
            }
            tag.setString(1, "t3");
            tag.addBatch();
            tag.setString(1, "t4");
            tag.addBatch();
            tag.executeBatch();
            out.add("item after query and batch " + keys(item));
            out.add("tag after its batch " + keys(tag));

            // A failed insert in between (UNIQUE), then a plain statement's insert and update.
            item.setString(1, "f");
            item.executeUpdate();
            tag.setString(1, "t5");
            tag.executeUpdate();
            item.setString(1, "a");
            assertThrows(SQLException.class, item::executeUpdate);
            out.add("item after its failed insert " + keys(item));
            out.add("tag after item's failure " + keys(tag));
            st.executeUpdate("INSERT INTO tag (label) VALUES ('s1')");
            out.add("statement insert " + keys(st));
            st.executeUpdate("UPDATE tag SET label = 'x' WHERE label = 's1'");
            out.add("statement update " + keys(st));
            st.executeUpdate("REPLACE INTO item (id, name) VALUES (500, 'r')");
            out.add("replace " + keys(st));
            st.executeUpdate("WITH v(n) AS (SELECT 'w') INSERT INTO item (name) SELECT n FROM v");
            out.add("with insert " + keys(st));
            out.add("tag still " + keys(tag));

            // Inside a JDBC transaction, and once it committed.
            c.setAutoCommit(false);
            item.setString(1, "g");
            item.executeUpdate();
            tag.setString(1, "t6");
            tag.executeUpdate();
            out.add("in transaction " + keys(item) + " " + keys(tag));
            item.setString(1, "h");
            item.executeUpdate();
            c.commit();
            out.add("after commit " + keys(item));
            c.setAutoCommit(true);

            // A statement closed with its keys unread does not hold the next one's.
            PreparedStatement closing = c.prepareStatement("INSERT INTO tag (label) VALUES ('z')");
            closing.executeUpdate();
            closing.close();
            item.setString(1, "i");
            item.executeUpdate();
            out.add("after a closed statement " + keys(item));
        }
        return out;
    }

    private static String keys(Statement s) throws SQLException {
        ResultSet rs = s.getGeneratedKeys();
        List<Long> ids = new ArrayList<>();
        while (rs.next()) {
            ids.add(rs.getLong(1));
        }
        return ids.toString();
    }
}
