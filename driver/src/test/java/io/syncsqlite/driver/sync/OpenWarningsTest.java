package io.syncsqlite.driver.sync;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the driver says when it opens a file whose tables cannot sync as the application may think: tables
 * without a key, and a Hibernate sequence table that serves no synced table of its name (one named after its
 * table, the JPA default, is kept in the node's ids), whose ids collide across devices; the advice for it is
 * not "give it a key".
 */
class OpenWarningsTest {

    @TempDir
    Path dir;

    private final Logger logger = Logger.getLogger(SyncNode.class.getName());
    private final List<String> warnings = new CopyOnWriteArrayList<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord r) {
            if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                warnings.add(java.text.MessageFormat.format(r.getMessage(), r.getParameters()));
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeEach
    void listen() {
        logger.addHandler(handler);
    }

    @AfterEach
    void stop() {
        logger.removeHandler(handler);
    }

    @Test
    void aSharedHibernateSequenceTableIsNamedWithTheAdviceThatHelps() throws SQLException {
        String file = dir.resolve("app.db").toString();
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = raw.createStatement()) {
            st.execute("CREATE TABLE item (id BIGINT NOT NULL PRIMARY KEY, title TEXT)");
            st.execute("CREATE TABLE item_SEQ (next_val BIGINT)");
            st.execute("CREATE TABLE hibernate_sequence (next_val BIGINT)");
            st.execute("CREATE TABLE notes (body TEXT)");
        }
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0")) {
            assertTrue(c.isValid(1));
        }
        List<String> sequence = warnings.stream().filter(w -> w.contains("hibernate_sequence")).toList();
        assertEquals(1, sequence.size(), "one warning names the shared sequence table: " + warnings);
        assertTrue(sequence.get(0).contains("GenerationType.IDENTITY"), sequence.get(0));
        assertFalse(sequence.get(0).contains("item_SEQ"), "item_SEQ is kept in this node's ids: " + sequence.get(0));
        assertTrue(warnings.stream().anyMatch(w -> w.startsWith("tables without a primary key are not synced: [notes]")),
                "the key-less table is still named, alone: " + warnings);
        assertFalse(warnings.stream().anyMatch(w -> w.contains("give them a key") && w.contains("item_SEQ")),
                "a sequence table is not told to get a key: " + warnings);
    }
}
