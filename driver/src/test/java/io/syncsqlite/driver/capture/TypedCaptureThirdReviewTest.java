package io.syncsqlite.driver.capture;

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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.syncsqlite.driver.capture.Sql.count;
import static io.syncsqlite.driver.capture.Sql.exec;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Third review of typed capture, driver level (real SQLite files, no relay).
 */
class TypedCaptureThirdReviewTest {

    @TempDir
    Path dir;

    private Connection open() throws SQLException {
        return DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("app.db") + "?sync.lingerMs=0");
    }

    private Connection plain() throws SQLException {
        return DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"));
    }

    private static Map<String, String> recordedTriggers(Connection c) throws SQLException {
        Map<String, String> out = new HashMap<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT name, triggers FROM _sync_tables")) {
            while (rs.next()) {
                out.put(rs.getString(1), rs.getString(2));
            }
        }
        return out;
    }

    /**
     * {@code id INTEGER PRIMARY KEY} in a WITHOUT ROWID table is not a rowid alias: it holds any value,
     * bytes included (so is {@code INTEGER PRIMARY KEY DESC}). The typed triggers skipped the byte check for
     * keys TableInfo.rowidKey() called the alias (declared INTEGER, single-column key): the bytes were
     * captured, the JSON delete trigger then failed, so the row could never be deleted or re-keyed through
     * a synced connection, and the relay received "\xFFFF" for an integer key. Every column not declared
     * BLOB is checked now.
     */
    @Test
    void bytesInTheIntegerKeyOfAWithoutRowidTableAreRefusedAsInEveryOtherNonBlobColumn() throws SQLException {
        List<String> problems = new ArrayList<>();
        try (Connection c = open()) {
            // neither key is a rowid alias (https://sqlite.org/lang_createtable.html#rowid): both hold any value
            exec(c, "CREATE TABLE w (id INTEGER PRIMARY KEY, name TEXT) WITHOUT ROWID",
                    "CREATE TABLE d (id INTEGER PRIMARY KEY DESC, name TEXT)");
            for (String table : List.of("w", "d")) {
                boolean accepted;
                try {
                    exec(c, "INSERT INTO " + table + " (id, name) VALUES (x'FFFF', 'a')");
                    accepted = true;
                } catch (SQLException refused) {
                    accepted = false;
                }
                if (accepted) {
                    // what the application sees next: its own row cannot be deleted any more
                    String delete;
                    try {
                        exec(c, "DELETE FROM " + table + " WHERE id = x'FFFF'");
                        delete = "worked";
                    } catch (SQLException ex) {
                        delete = "fails: " + ex.getMessage();
                    }
                    problems.add("bytes in " + table + ".id (INTEGER affinity, not a rowid alias) were captured typed;"
                            + " deleting that row then " + delete);
                }
            }
            assertEquals(List.of(), problems, CaptureTest.outbox(c).toString());
        }
    }

    /**
     * Guard (passes): names with mixed case, double and single quotes, spaces and non-ASCII characters in
     * tables and columns are captured typed exactly as the JSON format names them, through insert, update,
     * key change and delete, and a reopen finds the same layout (no reinstall).
     */
    @Test
    void oddTableAndColumnNamesAreCapturedAsJsonNamedThem() throws SQLException {
        String table = "My \"Tbl\" 'é' Ω";
        String q = TriggerSql.quote(table);
        try (Connection c = open()) {
            exec(c, "CREATE TABLE " + q + " (\"Key Col\" TEXT PRIMARY KEY, \"va'l\" INTEGER, \"ü \"\"x\"\"\" REAL, data BLOB)",
                    "INSERT INTO " + q + " VALUES ('k1', 1, 0.5, x'01')",
                    "UPDATE " + q + " SET \"va'l\" = 2 WHERE \"Key Col\" = 'k1'",
                    "UPDATE " + q + " SET \"Key Col\" = 'k2' WHERE \"Key Col\" = 'k1'",
                    "DELETE FROM " + q);
            assertEquals(List.of(
                    "1:{\"Key Col\":\"k1\"}:{\"Key Col\":\"k1\",\"va'l\":1,\"ü \\\"x\\\"\":0.5,\"data\":\"\\\\x01\"}:null",
                    "2:{\"Key Col\":\"k1\"}:{\"Key Col\":\"k1\",\"va'l\":2,\"ü \\\"x\\\"\":null,\"data\":null}:0100",
                    "3:{\"Key Col\":\"k1\"}:null:null",
                    "1:{\"Key Col\":\"k2\"}:{\"Key Col\":\"k2\",\"va'l\":2,\"ü \\\"x\\\"\":0.5,\"data\":\"\\\\x01\"}:null",
                    "3:{\"Key Col\":\"k2\"}:null:null"), CaptureTest.outbox(c));
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT DISTINCT tbl FROM _sync_outbox")) {
                assertTrue(rs.next());
                assertEquals(table, rs.getString(1));
            }
        }
        Map<String, String> before;
        try (Connection p = plain()) {
            before = recordedTriggers(p);
        }
        try (Connection c = open()) {
            assertEquals(before, recordedTriggers(c));
            assertEquals(1, count(c, "SELECT count(*) FROM _sync_layouts"));
        }
    }

    /**
     * Guard (passes): several connections of one JVM open a new file at once (each installs capture) and
     * write; one layout per table shape, the recorded trigger text does not change on later opens, and every
     * write is captured exactly once, typed.
     */
    @Test
    void connectionsOpeningANewFileAtOnceShareOneLayoutAndCaptureEveryWriteOnce() throws Exception {
        try (Connection p = plain()) {
            exec(p, "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)", "CREATE TABLE \"B b\" (k TEXT PRIMARY KEY, n REAL)");
        }
        int threads = 6;
        int writes = 40;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int me = t;
            done.add(pool.submit(() -> {
                go.await();
                try (Connection c = open()) {
                    for (int i = 0; i < writes; i++) {
                        int id = me * 1000 + i;
                        retry(() -> {
                            try (PreparedStatement ps = c.prepareStatement("INSERT INTO a (id, v) VALUES (?, 'x')")) {
                                ps.setInt(1, id);
                                ps.executeUpdate();
                            }
                        });
                        retry(() -> {
                            try (PreparedStatement ps = c.prepareStatement("INSERT INTO \"B b\" (k, n) VALUES (?, 1.5)")) {
                                ps.setString(1, "k" + id);
                                ps.executeUpdate();
                            }
                        });
                    }
                }
                return null;
            }));
        }
        go.countDown();
        for (Future<?> f : done) {
            f.get(120, TimeUnit.SECONDS);
        }
        pool.shutdown();
        Map<String, String> first;
        try (Connection p = plain()) {
            assertEquals(2, count(p, "SELECT count(*) FROM _sync_layouts"));
            assertEquals(threads * writes, count(p, "SELECT count(*) FROM _sync_outbox WHERE tbl = 'a' AND layout IS NOT NULL"));
            assertEquals(threads * writes, count(p, "SELECT count(*) FROM _sync_outbox WHERE tbl = 'B b' AND layout IS NOT NULL"));
            assertEquals(threads * writes * 2, count(p, "SELECT count(*) FROM _sync_outbox"));
            first = recordedTriggers(p);
        }
        try (Connection c = open()) {
            assertEquals(first, recordedTriggers(c));
        }
    }

    interface Write {
        void run() throws SQLException;
    }

    private static void retry(Write w) throws Exception {
        for (int i = 0; ; i++) {
            try {
                w.run();
                return;
            } catch (SQLException e) {
                if (i > 200 || !String.valueOf(e.getMessage()).contains("BUSY")) {
                    throw e;
                }
                Thread.sleep(5);
            }
        }
    }
}
