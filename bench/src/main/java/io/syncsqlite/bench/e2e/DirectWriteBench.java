package io.syncsqlite.bench.e2e;

import io.syncsqlite.relay.schema.SchemaInstaller;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What the relay's capture costs a direct PostgreSQL write (psql, another service), against pgjdbc writing
 * the same statements into a table without capture, side by side in one run. Each case runs on fresh
 * connections in the order that matters: PL/pgSQL plans the capture's queries once per session, for the
 * size of the first statement it captures, so a statement is timed after one of the other size
 * (DESIGN.md, "Direct writes"; BENCHMARKS.md, "Direct PostgreSQL writes: plans for any size").
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar io.syncsqlite.bench.e2e.DirectWriteBench
 *      [--pg-url jdbc:postgresql://host:port/db --pg-user u --pg-password p] [--runs n] [--rows n]
 * </pre>
 *
 * Not thread-safe: a command-line program with one thread.
 */
public final class DirectWriteBench {

    private static final int ONE_ROW_OPS = 300;

    private final PgServer pg;
    private final String db;
    private final int rows;
    /** case -> variant ("syncsqlite", "raw") -> values. */
    private final Map<String, Map<String, Series>> results = new LinkedHashMap<>();

    private DirectWriteBench(PgServer pg, String db, int rows) {
        this.pg = pg;
        this.db = db;
        this.rows = rows;
    }

    public static void main(String[] args) throws Exception {
        String url = null;
        String user = null;
        String password = null;
        int runs = 5;
        int rows = 10_000;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--pg-url" -> url = args[++i];
                case "--pg-user" -> user = args[++i];
                case "--pg-password" -> password = args[++i];
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--rows" -> rows = Integer.parseInt(args[++i]);
                default -> {
                    System.out.println("usage: DirectWriteBench [--pg-url URL --pg-user U --pg-password P]"
                            + " [--runs n] [--rows n]");
                    System.exit(2);
                }
            }
        }
        try (PgServer pg = PgServer.find(url, user, password)) {
            String db = pg.newDatabase("direct_bench");
            try {
                System.out.println("PostgreSQL: " + pg.kind() + ", " + pg.version());
                DirectWriteBench bench = new DirectWriteBench(pg, db, rows);
                bench.setUp();
                for (int r = 0; r <= runs; r++) {
                    // Run 0 warms the JVM, pgjdbc and PostgreSQL's caches; it is not counted.
                    bench.run(r > 0);
                }
                bench.print();
            } finally {
                pg.drop(db);
            }
        }
    }

    private void setUp() throws SQLException {
        try (Connection c = pg.connect(db)) {
            for (String t : List.of("captured", "raw")) {
                x(c, "CREATE TABLE " + t + " (id int PRIMARY KEY, a int, b text)");
                x(c, "INSERT INTO " + t + " SELECT g, g, 'row ' || g FROM generate_series(1, " + rows + ") AS g");
            }
            // A foreign key of the table to itself that cascades key changes: the capture's UPDATE then reads
            // the cascade's second versions of rows out of its transition tables (install.sql, "twice").
            x(c, "CREATE TABLE emp (id int PRIMARY KEY, boss int REFERENCES emp ON UPDATE CASCADE, name text)");
            x(c, "CREATE TABLE emp_raw (id int PRIMARY KEY, boss int REFERENCES emp_raw ON UPDATE CASCADE, name text)");
            for (String t : List.of("emp", "emp_raw")) {
                x(c, "INSERT INTO " + t + " SELECT g, NULL, 'e' || g FROM generate_series(1, " + rows / 5 + ") AS g");
                x(c, "UPDATE " + t + " SET boss = id / 2 WHERE id > 1");
            }
            SchemaInstaller.install(c, "public", List.of("captured", "emp"));
        }
    }

    private void run(boolean counted) throws SQLException {
        for (String variant : List.of("syncsqlite", "raw")) {
            String t = variant.equals("raw") ? "raw" : "captured";
            String emp = variant.equals("raw") ? "emp_raw" : "emp";
            try (Connection c = pg.connect(db)) {
                x(c, "VACUUM ANALYZE " + t);
                if (variant.equals("syncsqlite")) {
                    // The change log grows by every run; the feed would prune it (retention), not this harness.
                    x(c, "TRUNCATE syncsqlite.change");
                    x(c, "VACUUM syncsqlite.row_clock");
                }
            }
            try (Connection c = pg.connect(db)) {
                oneRowUpdates(c, t, 20);
                record(counted, "one-row UPDATE, ms per statement", variant, oneRowUpdates(c, t, ONE_ROW_OPS));
            }
            try (Connection c = pg.connect(db)) {
                oneRowUpdates(c, t, 3);
                record(counted, rows + "-row UPDATE after one-row ones, ms", variant, ms(c, "UPDATE " + t + " SET a = a + 1"));
            }
            try (Connection c = pg.connect(db)) {
                ms(c, "UPDATE " + t + " SET a = a + 1");
                record(counted, "one-row UPDATE after a " + rows + "-row one, ms per statement", variant,
                        oneRowUpdates(c, t, ONE_ROW_OPS / 3));
            }
            try (Connection c = pg.connect(db)) {
                x(c, "DELETE FROM " + t + " WHERE id = 1");
                x(c, "INSERT INTO " + t + " VALUES (1, 1, 'row 1')");
                record(counted, rows + "-row DELETE after a one-row one, ms", variant, ms(c, "DELETE FROM " + t));
                record(counted, rows + "-row INSERT after a one-row one, ms", variant, ms(c, "INSERT INTO " + t
                        + " SELECT g, g, 'row ' || g FROM generate_series(1, " + rows + ") AS g"));
            }
            try (Connection c = pg.connect(db)) {
                record(counted, rows / 5 + "-row key UPDATE cascading to itself, ms", variant,
                        ms(c, "UPDATE " + emp + " SET id = id + " + 10 * rows));
                x(c, "UPDATE " + emp + " SET id = id - " + 10 * rows);
            }
        }
    }

    private double oneRowUpdates(Connection c, String t, int n) throws SQLException {
        try (PreparedStatement p = c.prepareStatement("UPDATE " + t + " SET b = b || 'x' WHERE id = ?")) {
            long t0 = System.nanoTime();
            for (int i = 1; i <= n; i++) {
                p.setInt(1, i * 7 % rows + 1);
                p.executeUpdate();
            }
            return (System.nanoTime() - t0) / 1e6 / n;
        }
    }

    private void record(boolean counted, String name, String variant, double value) {
        if (counted) {
            results.computeIfAbsent(name, k -> new LinkedHashMap<>())
                    .computeIfAbsent(variant, k -> new Series("ms", false)).add(value);
        }
    }

    private void print() {
        System.out.printf(Locale.ROOT, "%-58s %-20s %-20s %7s%n", "case (median, min-max)", "syncsqlite", "raw pgjdbc", "ratio");
        results.forEach((name, v) -> {
            Series s = v.get("syncsqlite");
            Series r = v.get("raw");
            System.out.printf(Locale.ROOT, "%-58s %8.2f %-11s %8.2f %-11s %6.1fx%n", name, s.median(), spread(s),
                    r.median(), spread(r), s.median() / r.median());
        });
    }

    private static String spread(Series s) {
        String f = s.max() < 10 ? "%.2f-%.2f" : "%.0f-%.0f";
        return String.format(Locale.ROOT, f, s.min(), s.max());
    }

    private static double ms(Connection c, String sql) throws SQLException {
        long t0 = System.nanoTime();
        x(c, sql);
        return (System.nanoTime() - t0) / 1e6;
    }

    private static void x(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }
}
