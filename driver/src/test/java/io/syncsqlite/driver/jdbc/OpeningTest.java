package io.syncsqlite.driver.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Opening files: connections racing to switch a file to WAL, and a file that stays locked. */
class OpeningTest {

    @TempDir
    Path dir;

    /**
     * Six connections open a file still in rollback-journal mode at the same moment. sqlite-jdbc switches it to
     * WAL while opening, which SQLite refuses with SQLITE_BUSY without waiting; before the driver tried again,
     * about one round in twelve failed here.
     */
    @Test
    void connectionsOpeningAFileNotYetInWalModeAtOnceAllSucceed() throws Exception {
        int threads = 6;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            for (int round = 0; round < 80; round++) {
                String file = dir.resolve("race" + round + ".db").toString();
                try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file);
                     Statement st = plain.createStatement()) {
                    st.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)");
                }
                CountDownLatch go = new CountDownLatch(1);
                List<Future<?>> opened = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    opened.add(pool.submit(() -> {
                        go.await();
                        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0")) {
                            assertEquals("wal", journalMode(c));
                        }
                        return null;
                    }));
                }
                go.countDown();
                for (Future<?> f : opened) {
                    f.get(60, TimeUnit.SECONDS);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** A file another connection keeps locked still fails, with SQLITE_BUSY, after about the URL's busy timeout. */
    @Test
    void aFileThatStaysLockedFailsAfterTheBusyTimeout() throws Exception {
        String file = dir.resolve("locked.db").toString();
        try (Connection holder = DriverManager.getConnection("jdbc:sqlite:" + file);
             Statement st = holder.createStatement()) {
            st.execute("CREATE TABLE a (id INTEGER PRIMARY KEY)");
            holder.setAutoCommit(false);
            st.execute("INSERT INTO a VALUES (1)");
            st.execute("PRAGMA locking_mode = EXCLUSIVE");
            st.execute("SELECT * FROM a");
            long start = System.nanoTime();
            SQLException e = assertThrows(SQLException.class,
                    () -> DriverManager.getConnection("jdbc:syncsqlite:" + file + "?busy_timeout=300&sync.lingerMs=0").close());
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertEquals(5, e.getErrorCode() & 0xff, e.toString());
            assertTrue(millis >= 300 && millis < 2500, "gave up after " + millis + " ms");
            holder.rollback();
        }
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + file + "?sync.lingerMs=0");
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM a")) {
            rs.next();
            assertEquals(0, rs.getInt(1), "the rolled-back insert stays rolled back");
            assertEquals("wal", journalMode(c));
        }
    }

    private static String journalMode(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("PRAGMA journal_mode")) {
            rs.next();
            return rs.getString(1);
        }
    }
}
