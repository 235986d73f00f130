package io.syncsqlite.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Local write throughput through {@code jdbc:syncsqlite:} (capture on, no relay) against raw
 * {@code jdbc:sqlite:}, on identical files and settings (WAL, synchronous=NORMAL; the {@code Durable} variants
 * synchronous=FULL), in one run. Each
 * invocation writes a fixed number of rows into a fresh file (set up outside the timed part); the score is
 * the time of one invocation.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3)
@Measurement(iterations = 9)
@Fork(1)
public class LocalWriteBenchmark {

    static final int TX_ROWS = 100_000;
    static final int AUTO_ROWS = 10_000;

    /** A fresh database file per invocation, empty or pre-filled with {@link #rows()} rows. */
    @State(Scope.Thread)
    public abstract static class Db {
        /**
         * sqlite-jdbc as applications get it; syncsqlite; and, for reference, sqlite-jdbc without the
         * {@code SELECT last_insert_rowid()} it runs after every INSERT (jdbc.get_generated_keys=false),
         * which syncsqlite defers until the keys are asked for: the bare cost of SQLite's own work.
         */
        @Param({"sqlite", "syncsqlite", "sqlite-nokeys"})
        public String driver;

        Path dir;
        Connection conn;

        abstract int rows();

        /**
         * SQLite's {@code synchronous} setting, the same for every driver. NORMAL (the usual choice with WAL)
         * syncs only at checkpoints, so a commit's cost is its CPU and the bytes it adds to the log; FULL syncs
         * the log at every commit, so a commit is durable when it returns.
         */
        String synchronous() {
            return "NORMAL";
        }

        @Setup(Level.Invocation)
        public void open() throws SQLException, IOException {
            dir = Files.createTempDirectory("bench");
            String file = dir.resolve("bench.db").toString();
            String settings = "?journal_mode=WAL&synchronous=" + synchronous();
            String url = switch (driver) {
                case "sqlite" -> "jdbc:sqlite:" + file + settings;
                case "sqlite-nokeys" -> "jdbc:sqlite:" + file + settings + "&jdbc.get_generated_keys=false";
                default -> "jdbc:syncsqlite:" + file + settings + "&sync.lingerMs=0";
            };
            conn = DriverManager.getConnection(url);
            try (Statement st = conn.createStatement()) {
                st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT NOT NULL, qty INTEGER NOT NULL, price REAL)");
            }
            if (rows() > 0) {
                conn.setAutoCommit(false);
                insertRows(conn, rows());
                conn.commit();
                conn.setAutoCommit(true);
                if (driver.equals("syncsqlite")) {
                    // Start the timed part with an empty outbox, as a synced client would be.
                    try (Statement st = conn.createStatement()) {
                        st.execute("DELETE FROM _sync_outbox");
                    }
                }
            }
        }

        @TearDown(Level.Invocation)
        public void close() throws SQLException, IOException {
            conn.close();
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    public static class Empty extends Db {
        @Override
        int rows() {
            return 0;
        }
    }

    public static class Filled extends Db {
        @Override
        int rows() {
            return TX_ROWS;
        }
    }

    /** {@link Empty} with every commit synced to disk ({@code synchronous=FULL}). */
    public static class EmptyDurable extends Empty {
        @Override
        String synchronous() {
            return "FULL";
        }
    }

    /** {@link Filled} with every commit synced to disk ({@code synchronous=FULL}). */
    public static class FilledDurable extends Filled {
        @Override
        String synchronous() {
            return "FULL";
        }
    }

    static void insertRows(Connection conn, int rows) throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement("INSERT INTO item (id, title, qty, price) VALUES (?, ?, ?, ?)")) {
            for (int i = 1; i <= rows; i++) {
                ps.setInt(1, i);
                ps.setString(2, "item number " + i);
                ps.setInt(3, i % 100);
                ps.setDouble(4, i * 0.25);
                ps.executeUpdate();
            }
        }
    }

    static void updateRows(Connection conn, int rows) throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement("UPDATE item SET qty = ?, title = ? WHERE id = ?")) {
            for (int i = 1; i <= rows; i++) {
                ps.setInt(1, i % 7);
                ps.setString(2, "renamed " + i);
                ps.setInt(3, i);
                ps.executeUpdate();
            }
        }
    }

    @Benchmark
    public void insert100kInOneTransaction(Empty db) throws SQLException {
        db.conn.setAutoCommit(false);
        insertRows(db.conn, TX_ROWS);
        db.conn.commit();
    }

    @Benchmark
    public void insert10kAutoCommit(Empty db) throws SQLException {
        insertRows(db.conn, AUTO_ROWS);
    }

    /** As {@link #insert10kAutoCommit}, each commit durable when it returns. */
    @Benchmark
    public void insert10kAutoCommitDurable(EmptyDurable db) throws SQLException {
        insertRows(db.conn, AUTO_ROWS);
    }

    @Benchmark
    public void update100kInOneTransaction(Filled db) throws SQLException {
        db.conn.setAutoCommit(false);
        updateRows(db.conn, TX_ROWS);
        db.conn.commit();
    }

    @Benchmark
    public void update10kAutoCommit(Filled db) throws SQLException {
        updateRows(db.conn, AUTO_ROWS);
    }

    /** As {@link #update10kAutoCommit}, each commit durable when it returns. */
    @Benchmark
    public void update10kAutoCommitDurable(FilledDurable db) throws SQLException {
        updateRows(db.conn, AUTO_ROWS);
    }
}
