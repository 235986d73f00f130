package io.syncsqlite.bench;

import io.syncsqlite.driver.sql.SqlClassifier;
import io.syncsqlite.driver.sql.SqlInfo;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
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
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;

/**
 * The driver's per-statement overhead: a prepared read executed through each driver (warm parse cache,
 * so this is the interception cost alone), and the cold classification cost of one new SQL text.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 7, time = 1)
@Fork(1)
@State(Scope.Thread)
public class ParseBenchmark {

    @State(Scope.Thread)
    public static class Prepared {
        /**
         * {@code syncsqlite-client} runs a sync client (to a relay that is not there, so it only retries): a query then
         * also holds the gate that keeps it apart from the sync client's commits (SyncConnection.read).
         */
        @Param({"sqlite", "syncsqlite", "syncsqlite-client"})
        public String driver;
        Path dir;
        Connection conn;
        PreparedStatement select;

        @Setup
        public void open() throws SQLException, IOException {
            dir = Files.createTempDirectory("bench");
            String file = dir.resolve("bench.db").toString();
            conn = DriverManager.getConnection((driver.equals("sqlite") ? "jdbc:sqlite:" : "jdbc:syncsqlite:")
                    + file + "?journal_mode=WAL&synchronous=NORMAL" + (driver.equals("sqlite") ? "" : "&sync.lingerMs=0")
                    + (driver.equals("syncsqlite-client") ? "&sync.server=ws://127.0.0.1:9/sync" : ""));
            try (Statement st = conn.createStatement()) {
                st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, qty INTEGER)");
                st.execute("INSERT INTO item VALUES (1, 'a', 1)");
            }
            select = conn.prepareStatement("SELECT title, qty FROM item WHERE id = ?");
        }

        @TearDown
        public void close() throws SQLException {
            conn.close();
            dir.resolve("bench.db").toFile().delete();
        }
    }

    @Benchmark
    public int preparedQuery(Prepared p) throws SQLException {
        p.select.setInt(1, 1);
        try (ResultSet rs = p.select.executeQuery()) {
            rs.next();
            return rs.getInt(2);
        }
    }

    @Benchmark
    public boolean statementExecuteRepeatedSql(Prepared p) throws SQLException {
        try (Statement st = p.conn.createStatement()) {
            return st.execute("SELECT qty FROM item WHERE id = 1");
        }
    }

    private static final String[] COLD = {
        "insert into item (title, qty) values (?, ?)",
        "update item set qty=(qty+?) where id=?",
        "INSERT OR REPLACE INTO item VALUES (?, ?, ?)",
        "insert into categories(name, count) values ('Food', ?) on conflict(name) do update set count = count + excluded.count",
        "delete from item where id = ? and version = ?",
    };

    private int next;

    @Benchmark
    public SqlInfo coldClassify() {
        return SqlClassifier.classifyUncached(COLD[next++ % COLD.length]);
    }
}
