package io.syncsqlite.it.harness;

import io.syncsqlite.driver.jdbc.SyncConnection;
import io.syncsqlite.driver.sync.Rejection;
import io.syncsqlite.driver.sync.SyncNode;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.StringJoiner;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A second process on one SQLite file, for the tests of several processes sharing it: opens {@code args[0]}
 * through the driver (registering a rejection listener), prints {@code ready}, then either, with {@code
 * writer SEED WHO}, adds counter increments until killed, or answers one line per command: {@code exec SQL}, {@code query SQL},
 * {@code inc ACCT AMOUNT WHO}, {@code synced SECONDS}, {@code status}, {@code rejections}, {@code close}
 * (closes the connection, the JVM stays), {@code open}, {@code quit}. Increments go to table {@code acct}
 * and are recorded in the local {@code ledger} table in the same transaction.
 *
 * <p>Not thread-safe: a test drives one {@link Handle} from one thread.
 */
public final class PeerProcess {

    private static final List<Rejection> REJECTIONS = new CopyOnWriteArrayList<>();

    private PeerProcess() {
    }

    public static void main(String[] args) throws Exception {
        Connection c = open(args[0]);
        System.out.println("ready");
        System.out.flush();
        if (args.length > 1 && args[1].equals("writer")) {
            Random rnd = new Random(Long.parseLong(args[2]));
            while (true) {
                increment(c, 1 + rnd.nextInt(6), 1 + rnd.nextInt(9), args[3]);
                Thread.sleep(rnd.nextInt(4));
            }
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String reply;
            try {
                if (line.equals("close")) {
                    c.close();
                    reply = "ok";
                } else if (line.equals("open")) {
                    c = open(args[0]);
                    reply = "ok";
                } else {
                    reply = run(c, line);
                }
            } catch (Exception e) {
                String state = e instanceof SQLException s ? s.getSQLState() : e.getClass().getSimpleName();
                reply = "err " + state + " " + String.valueOf(e.getMessage()).replace('\n', ' ');
            }
            System.out.println(reply);
            System.out.flush();
            if (line.equals("quit")) {
                break;
            }
        }
        if (!c.isClosed()) {
            c.close();
        }
    }

    /**
     * Adds {@code amount} to account {@code acct} and records it in the local {@code ledger} table, in one
     * transaction; false (after printing {@code ERR ...} to stderr) when it failed.
     */
    public static boolean increment(Connection c, long acct, int amount, String who) throws SQLException {
        boolean auto = c.getAutoCommit();
        c.setAutoCommit(false);
        try {
            try (PreparedStatement add = c.prepareStatement("UPDATE acct SET balance = balance + ? WHERE id = ?");
                 PreparedStatement ledger = c.prepareStatement("INSERT INTO ledger (acct, amount, who) VALUES (?, ?, ?)")) {
                add.setInt(1, amount);
                add.setLong(2, acct);
                if (add.executeUpdate() == 1) {
                    ledger.setLong(1, acct);
                    ledger.setInt(2, amount);
                    ledger.setString(3, who);
                    ledger.executeUpdate();
                }
            }
            c.commit();
            return true;
        } catch (SQLException e) {
            System.err.println("ERR " + who + ": " + e.getMessage());
            try {
                c.rollback();
            } catch (SQLException ignored) {
                // already rolled back
            }
            return false;
        } finally {
            c.setAutoCommit(auto);
        }
    }

    private static Connection open(String url) throws SQLException {
        Connection c = DriverManager.getConnection(url);
        c.unwrap(SyncConnection.class).node().addRejectionListener(REJECTIONS::add);
        return c;
    }

    private static String run(Connection c, String line) throws Exception {
        if (line.startsWith("exec ")) {
            try (Statement st = c.createStatement()) {
                return "ok " + st.executeUpdate(line.substring(5));
            }
        } else if (line.startsWith("query ")) {
            StringJoiner rows = new StringJoiner(";");
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(line.substring(6))) {
                while (rs.next()) {
                    StringJoiner row = new StringJoiner(",");
                    for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                        row.add(String.valueOf(rs.getObject(i)));
                    }
                    rows.add(row.toString());
                }
            }
            return "ok " + rows;
        } else if (line.startsWith("inc ")) {
            String[] p = line.split(" ");
            return increment(c, Long.parseLong(p[1]), Integer.parseInt(p[2]), p[3]) ? "ok 1" : "err busy";
        } else if (line.startsWith("synced")) {
            String[] p = line.split(" ");
            long seconds = p.length > 1 ? Long.parseLong(p[1]) : 30;
            return "ok " + node(c).awaitSynced(Duration.ofSeconds(seconds));
        } else if (line.equals("status")) {
            return "ok " + node(c).status();
        } else if (line.equals("rejections")) {
            return "ok " + REJECTIONS.size() + " " + REJECTIONS.stream().map(Rejection::sqlState).toList();
        } else if (line.equals("quit")) {
            return "ok";
        }
        return "err unknown command";
    }

    private static SyncNode node(Connection c) throws SQLException {
        return c.unwrap(SyncConnection.class).node();
    }

    public static Handle start(String url, Path log, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(System.getProperty("java.home") + File.separator + "bin"
                + File.separator + "java", "-cp", System.getProperty("java.class.path"), PeerProcess.class.getName(), url));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        Handle h = new Handle(p);
        String first = h.next(60);
        if (!"ready".equals(first)) {
            p.destroyForcibly();
            throw new IllegalStateException("peer did not start (" + first + "): "
                    + (Files.exists(log) ? Files.readString(log) : ""));
        }
        return h;
    }

    public static final class Handle implements AutoCloseable {
        private final Process process;
        private final PrintWriter in;
        private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

        private Handle(Process process) {
            this.process = process;
            this.in = new PrintWriter(new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8), true);
            Thread reader = new Thread(() -> {
                try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String l;
                    while ((l = out.readLine()) != null) {
                        lines.add(l);
                    }
                } catch (IOException ignored) {
                    // process gone
                }
                lines.add("<eof>");
            }, "peer-reader");
            reader.setDaemon(true);
            reader.start();
        }

        public String next(long seconds) {
            try {
                String l = lines.poll(seconds, TimeUnit.SECONDS);
                return l == null ? "<timeout>" : l;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "<interrupted>";
            }
        }

        public String call(String command) {
            in.println(command);
            return next(90);
        }

        public boolean isAlive() {
            return process.isAlive();
        }

        public void kill() throws InterruptedException {
            process.destroyForcibly();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("peer survived SIGKILL");
            }
        }

        @Override
        public void close() throws InterruptedException {
            if (process.isAlive()) {
                kill();
            }
        }
    }
}
