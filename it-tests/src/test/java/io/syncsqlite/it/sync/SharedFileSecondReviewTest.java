package io.syncsqlite.it.sync;

import io.syncsqlite.driver.jdbc.SyncConnection;
import io.syncsqlite.driver.sync.Rejection;
import io.syncsqlite.driver.sync.SyncNode;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.it.harness.PeerProcess;
import io.syncsqlite.it.harness.TcpProxy;
import io.syncsqlite.protocol.Hlc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
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
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Second review of "one process per file syncs it" ({@code SyncLock}): a demanding user runs an application
 * and a command-line tool (or a restarted application) on one SQLite file, against a real relay and
 * PostgreSQL. The other process is a real JVM ({@link Peer}), driven line by line.
 */
class SharedFileSecondReviewTest {

    private static final String PG_ACCT = "CREATE TABLE acct (id BIGINT PRIMARY KEY, name TEXT, balance BIGINT NOT NULL DEFAULT 0)";
    private static final String LOCAL_ACCT = "CREATE TABLE acct (id INTEGER PRIMARY KEY, name TEXT, balance INTEGER NOT NULL DEFAULT 0)";
    private static final String LEDGER = "CREATE TABLE ledger (acct INTEGER NOT NULL, amount INTEGER NOT NULL, who TEXT NOT NULL)";
    private static final String ACCTS = "SELECT id, name, balance FROM acct ORDER BY id";
    private static final String PG_ITEM = "CREATE TABLE item (id BIGSERIAL PRIMARY KEY, name TEXT)";
    private static final String LOCAL_ITEM = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)";

    @TempDir
    Path dir;

    /**
     * The process that syncs the file (the application) is killed with SIGKILL while the relay is out of
     * reach and both processes hold unsent counter increments; PostgreSQL gets an increment of its own
     * meanwhile. A demanding user expects the surviving process (the CLI) to take the file over within a
     * few seconds, send every increment committed by either process exactly once, and show PostgreSQL's
     * balances in the file (its own pending increments not counted twice when the feed comes back).
     */
    @Test
    void theSurvivorTakesOverFromAKilledHolderAndCountsEveryIncrementOnce() throws Exception {
        try (Cluster c = Cluster.start("rv2_shared_kill_holder", dir, PG_ACCT)) {
            c.clientParams("&sync.tables=acct");
            Path file = c.file("n", LOCAL_ACCT, LEDGER);
            TcpProxy hp = c.proxy();
            PeerProcess.Handle holder = c.closeWith(PeerProcess.start(c.url("n", file, hp), dir.resolve("holder.log")));
            assertEquals("ok true", holder.call("synced 30"), "the first process connects and syncs");
            for (int k = 1; k <= 3; k++) {
                assertTrue(holder.call("exec INSERT INTO acct (id, name, balance) VALUES (" + k + ", 'acct " + k + "', 0)")
                        .startsWith("ok "));
            }
            assertEquals("ok true", holder.call("synced 30"));
            Client w = c.open("n", file, c.proxy());
            // (Right after the open the status says nothing yet: lastError is set by the client's thread.)
            await().atMost(Duration.ofSeconds(5)).until(
                    () -> String.valueOf(w.node().status().lastError()).contains("another process"));

            hp.online(false); // the holder loses the relay: nothing it or the CLI writes goes out now
            Random rnd = new Random(11);
            for (int i = 0; i < 10; i++) {
                assertEquals("ok 1", holder.call("inc " + (1 + rnd.nextInt(3)) + " " + (1 + rnd.nextInt(9)) + " holder"));
                assertTrue(PeerProcess.increment(w.connection(), 1 + rnd.nextInt(3), 1 + rnd.nextInt(9), "cli"), "increment in the CLI");
            }
            c.pg("UPDATE acct SET balance = balance + 100 WHERE id = 1");
            holder.kill();
            long killedAt = System.nanoTime();

            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50)).until(
                    () -> !String.valueOf(w.node().status().lastError()).contains("another process"));
            long tookOverMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
            System.out.println("the CLI took the file over " + tookOverMs + " ms after the holder was killed");
            w.awaitSynced();

            Map<Long, Long> expected = new TreeMap<>();
            for (Map<String, Object> row : w.rows("SELECT acct, sum(amount) AS total FROM ledger GROUP BY acct")) {
                expected.put((Long) row.get("acct"), (Long) row.get("total"));
            }
            expected.merge(1L, 100L, Long::sum);
            Map<Long, Long> inPg = new TreeMap<>();
            for (Map<String, Object> row : c.pgRows("SELECT id, balance FROM acct ORDER BY id")) {
                inPg.put((Long) row.get("id"), (Long) row.get("balance"));
            }
            assertEquals(expected, inPg, "PostgreSQL must count every committed increment of both processes once");
            c.awaitConverged(ACCTS, w);
        }
    }

    /**
     * A device whose wall clock runs a minute ahead (a phone set by hand) renames a row; the application
     * process applies it to the file. The CLI then reads the row, sees the new name, and renames it again.
     * A demanding user expects the CLI's rename to win everywhere, as it does when the application process
     * itself writes after applying the change (its clock observed the remote timestamp): the CLI's write
     * came after, and was made knowing, the remote one. DESIGN.md: "their clock follows the one the holder
     * records in the file (so their writes order after what it applied)".
     */
    @Test
    void aCliWriteMadeAfterTheHolderAppliedASkewedRemoteChangeWinsLastWriterWins() throws Exception {
        try (Cluster c = Cluster.start("rv2_shared_lww", dir, PG_ACCT)) {
            c.clientParams("&sync.tables=acct");
            Client w = c.client("n", LOCAL_ACCT);
            w.exec("INSERT INTO acct (id, name, balance) VALUES (100, 'v0', 0)");
            w.awaitSynced();
            // The remote device: its clock runs 60 s ahead of everybody's (well inside the relay's bound).
            Client r0 = c.client("r", LOCAL_ACCT);
            c.awaitConverged(ACCTS, r0);
            r0.close();
            try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + r0.file());
                 PreparedStatement ps = raw.prepareStatement("UPDATE _sync_state SET v = ? WHERE k = 'hlc'")) {
                ps.setLong(1, Hlc.ofMillis(System.currentTimeMillis() + 60_000));
                if (ps.executeUpdate() == 0) {
                    try (PreparedStatement ins = raw.prepareStatement("INSERT INTO _sync_state (k, v) VALUES ('hlc', ?)")) {
                        ins.setLong(1, Hlc.ofMillis(System.currentTimeMillis() + 60_000));
                        ins.executeUpdate();
                    }
                }
            }
            Client r = c.open("r", r0.file(), c.proxy());
            PeerProcess.Handle cli = c.closeWith(PeerProcess.start(c.url("n", w.file(), c.proxy()), dir.resolve("cli-lww.log")));
            assertTrue(cli.call("status").contains("another process"), cli.call("status"));

            List<String> lost = new ArrayList<>();
            for (int k = 1; k <= 1; k++) { // the review ran 3 rounds: each lost before the fix
                String remote = "remote " + k;
                String mine = "cli " + k;
                r.exec("UPDATE acct SET name = ? WHERE id = 100", remote);
                r.awaitSynced();
                await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(5)).until(
                        () -> remote.equals(w.rows("SELECT name FROM acct WHERE id = 100").get(0).get("name")));
                assertEquals("ok " + remote, cli.call("query SELECT name FROM acct WHERE id = 100"), "the CLI sees the remote name");
                assertTrue(cli.call("exec UPDATE acct SET name = '" + mine + "' WHERE id = 100").startsWith("ok "));
                assertEquals("ok true", cli.call("synced 30"));
                w.awaitSynced();
                r.awaitSynced(); // every push acknowledged: PostgreSQL's row is final
                Object inPg = c.pgRows("SELECT name FROM acct WHERE id = 100").get(0).get("name");
                if (!mine.equals(inPg)) {
                    lost.add("round " + k + ": PostgreSQL kept '" + inPg + "' over the CLI's later '" + mine + "'");
                }
            }
            assertEquals(List.of(), lost, "the CLI's writes, made after it saw the remote change, lost by last-writer-wins");
        }
    }

    /**
     * The CLI writes a value PostgreSQL refuses (a CHECK constraint the local schema does not have). A
     * demanding user expects the CLI to learn it: its rejection listener fires (as it would in a process
     * syncing the file itself), or at least {@code awaitSynced} does not report the refused write as synced.
     */
    @Test
    void theCliIsToldWhenPostgresRefusesItsWrite() throws Exception {
        try (Cluster c = Cluster.start("rv2_shared_reject", dir,
                "CREATE TABLE acct (id BIGINT PRIMARY KEY, name TEXT CHECK (name <> 'forbidden'), balance BIGINT NOT NULL DEFAULT 0)")) {
            c.clientParams("&sync.tables=acct");
            Client w = c.client("n", LOCAL_ACCT);
            w.exec("INSERT INTO acct (id, name, balance) VALUES (1, 'fine', 0)");
            w.awaitSynced();
            List<Rejection> toldTheApplication = new CopyOnWriteArrayList<>();
            w.node().addRejectionListener(toldTheApplication::add);
            PeerProcess.Handle cli = c.closeWith(PeerProcess.start(c.url("n", w.file(), c.proxy()), dir.resolve("cli-reject.log")));
            assertTrue(cli.call("status").contains("another process"), cli.call("status"));

            assertTrue(cli.call("exec UPDATE acct SET name = 'forbidden' WHERE id = 1").startsWith("ok "));
            String synced = cli.call("synced 20");
            await().atMost(Duration.ofSeconds(20)).until(() -> "fine".equals(w.rows("SELECT name FROM acct WHERE id = 1").get(0).get("name")));
            Thread.sleep(1500);
            // Since the syncing process records the rejections it handles in the file (_sync_rejected), the CLI's
            // listener hears of its own write's; nothing less passes now.
            String cliRejections = await().atMost(Duration.ofSeconds(10)).until(() -> cli.call("rejections"),
                    r -> r.startsWith("ok 1 "));
            assertTrue(cliRejections.startsWith("ok 1 ") && cliRejections.contains("23514"),
                    "the CLI's write was refused by PostgreSQL and reverted in the file, but the CLI was not told: its"
                            + " rejection listener got " + cliRejections + ", its awaitSynced said " + synced
                            + "; the application process's listener got " + toldTheApplication.size()
                            + " rejection(s) for a write it never made");
        }
    }

    /**
     * The application process is offline; the CLI commits a row and waits for it to sync. A demanding user
     * expects {@code awaitSynced} to return false within its timeout (nothing reached the relay).
     */
    @Test
    void awaitSyncedInTheCliIsFalseWhileTheHolderIsOfflineWithAWrite() throws Exception {
        try (Cluster c = Cluster.start("rv2_shared_offline_write", dir, PG_ACCT)) {
            c.clientParams("&sync.tables=acct");
            Client w = c.client("n", LOCAL_ACCT);
            w.exec("INSERT INTO acct (id, name, balance) VALUES (1, 'one', 0)");
            w.awaitSynced();
            PeerProcess.Handle cli = c.closeWith(PeerProcess.start(c.url("n", w.file(), c.proxy()), dir.resolve("cli-offline.log")));
            w.offline();
            assertTrue(cli.call("exec INSERT INTO acct (id, name, balance) VALUES (2, 'from the CLI', 0)").startsWith("ok "));
            long t0 = System.nanoTime();
            String answer = cli.call("synced 5");
            long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertEquals("ok false", answer, "nothing reached the relay");
            assertTrue(took < 8000, "awaitSynced(5 s) took " + took + " ms");
            w.online();
            assertEquals("ok true", cli.call("synced 30"));
        }
    }

    /**
     * The application process is offline; the CLI, having written nothing, waits to be synced (a "sync now"
     * command that then reads the file). A process that syncs the file itself answers false while offline
     * ({@code awaitSynced} requires a connection); a demanding user expects the CLI to answer the same, not
     * true while nobody is connected to the relay.
     */
    @Test
    void awaitSyncedInTheCliIsFalseWhileTheHolderIsOfflineWithoutWrites() throws Exception {
        try (Cluster c = Cluster.start("rv2_shared_offline_nowrite", dir, PG_ACCT)) {
            c.clientParams("&sync.tables=acct");
            Client w = c.client("n", LOCAL_ACCT);
            w.exec("INSERT INTO acct (id, name, balance) VALUES (1, 'one', 0)");
            w.awaitSynced();
            PeerProcess.Handle cli = c.closeWith(PeerProcess.start(c.url("n", w.file(), c.proxy()), dir.resolve("cli-offline2.log")));
            w.offline();
            // The sync thread has seen the connection end (before, a nudge handled while it still counted as
            // connected could answer "synced").
            await().atMost(Duration.ofSeconds(10)).until(() -> !w.node().status().connected());
            c.pg("UPDATE acct SET name = 'changed in PostgreSQL' WHERE id = 1");
            assertFalse(w.node().awaitSynced(Duration.ofSeconds(2)), "the offline holder itself says it is not synced");
            String answer = cli.call("synced 5");
            assertEquals("ok false", answer, "the CLI said it was synced while nobody was connected; the file still has "
                    + cli.call("query SELECT name FROM acct WHERE id = 1") + ", PostgreSQL 'changed in PostgreSQL'");
        }
    }

    /**
     * The application opens its file with {@code jdbc:syncsqlite:} + {@code path.toUri()} (a directory with
     * a space: {@code file:///.../my%20data/n.db}), its CLI with the plain path. Both reach the same SQLite
     * file. A demanding user expects one of them to sync it and the other to say so; keyless inserts in the
     * other to fail with SY004 (never with a primary-key collision).
     */
    @Test
    void aFileUriAndAPlainPathToTheSameFileShareOneSyncLock() throws Exception {
        try (Cluster c = Cluster.start("rv2_shared_uri", dir, PG_ITEM)) {
            Path sub = dir.resolve("my data");
            Files.createDirectories(sub);
            Path file = sub.resolve("n.db");
            try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file);
                 Statement st = plain.createStatement()) {
                st.execute(LOCAL_ITEM);
            }
            String params = "?sync.server=" + c.proxy().wsUrl() + "&sync.node=n&sync.lingerMs=0&sync.reconnectMaxMs=300&sync.tables=item";
            String uriUrl = "jdbc:syncsqlite:" + file.toUri() + params;
            PeerProcess.Handle app = c.closeWith(PeerProcess.start(uriUrl, dir.resolve("app-uri.log")));
            assertTrue(app.call("exec INSERT INTO item (name) VALUES ('from the application')").startsWith("ok "),
                    "the application inserts");
            assertEquals("ok true", app.call("synced 30"));
            try (Connection cli = DriverManager.getConnection("jdbc:syncsqlite:" + file + params)) {
                try (Statement st = cli.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM item")) {
                    rs.next();
                    assertEquals(1, rs.getInt(1), "both URLs open the same SQLite file");
                }
                SyncNode node = cli.unwrap(SyncConnection.class).node();
                String appStatus = app.call("status");
                String cliStatus = String.valueOf(node.status());
                String keyless;
                try (Statement st = cli.createStatement()) {
                    st.executeUpdate("INSERT INTO item (name) VALUES ('from the CLI')");
                    keyless = "ok";
                } catch (SQLException e) {
                    keyless = e.getSQLState() + " " + e.getMessage();
                }
                String appKeyless = app.call("exec INSERT INTO item (name) VALUES ('from the application, again')");
                assertTrue(appStatus.contains("another process") || cliStatus.contains("another process"),
                        "both processes sync the file (the bug SyncLock fixes): application " + appStatus + "; CLI "
                                + cliStatus + "; lock files " + listLockFiles(sub) + "; CLI keyless insert: " + keyless
                                + "; the application's next keyless insert: " + appKeyless);
                assertTrue(keyless.equals("ok") || keyless.startsWith("SY004"), "CLI keyless insert: " + keyless);
                assertTrue(appKeyless.startsWith("ok ") || appKeyless.startsWith("err SY004"),
                        "the application's keyless insert after the CLI's: " + appKeyless);
            }
        }
    }

    /**
     * An application is restarted: the old process has closed its last connection and still shuts down (its
     * node lingers, the default {@code sync.lingerMs} of 2 s, holding the lock) when the new one opens the
     * file and inserts a row without a key. A demanding user expects that first insert to succeed, waiting
     * briefly if it must (an insert already waits up to 5 s for a first key range while connecting), not
     * to fail because a process that no longer uses the file finishes its sync.
     */
    @Test
    void aRestartedApplicationsFirstKeylessInsertDoesNotFailWhileTheOldProcessLingers() throws Exception {
        try (Cluster c = Cluster.start("rv2_shared_restart", dir, PG_ITEM)) {
            c.clientParams("&sync.tables=item");
            Path file = c.file("n", LOCAL_ITEM);
            String url = c.url("n", file, c.proxy());
            PeerProcess.Handle old = c.closeWith(PeerProcess.start(url + "&sync.lingerMs=2000", dir.resolve("old.log")));
            assertTrue(old.call("exec INSERT INTO item (name) VALUES ('before the restart')").startsWith("ok "));
            assertEquals("ok true", old.call("synced 30"));
            assertEquals("ok", old.call("close")); // the old process shuts down: its last connection is closed

            long t0 = System.nanoTime();
            String first;
            String firstError = null;
            try (Connection app = DriverManager.getConnection(url)) {
                try (Statement st = app.createStatement()) {
                    st.executeUpdate("INSERT INTO item (name) VALUES ('first after the restart')");
                    first = "ok";
                } catch (SQLException e) {
                    first = e.getSQLState();
                    firstError = e.getMessage();
                }
                long firstMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                long worksAfter = -1;
                while (System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(15)) {
                    try (Statement st = app.createStatement()) {
                        st.executeUpdate("INSERT INTO item (name) VALUES ('retry after the restart')");
                        worksAfter = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                        break;
                    } catch (SQLException e) {
                        Thread.sleep(50);
                    }
                }
                System.out.println("restart: first keyless insert " + first + " after " + firstMs + " ms ("
                        + firstError + "); keyless inserts work " + worksAfter + " ms after opening");
                assertEquals("ok", first, "the restarted application's first keyless insert failed after " + firstMs
                        + " ms: " + firstError + "; keyless inserts worked " + worksAfter + " ms after opening");
            }
        }
    }

    /**
     * An application that opens a connection per request ({@code sync.lingerMs=0}) closes its last connection
     * on one thread while another thread opens the next. A demanding user, running a single process, expects
     * the new connection never to be told that "another process syncs this file" nor to refuse a keyless insert
     * for that reason.
     */
    @Test
    void aSingleProcessReopeningConcurrentlyIsNeverTakenForAnotherProcess() throws Exception {
        try (Cluster c = Cluster.start("rv2_shared_reopen", dir, PG_ITEM)) {
            c.clientParams("&sync.tables=item");
            Client a = c.client("n", LOCAL_ITEM);
            a.exec("INSERT INTO item (name) VALUES ('warm up')");
            a.awaitSynced();
            String url = a.url();
            Connection current = a.connection();
            List<String> refused = new ArrayList<>();
            for (int i = 0; i < 25 && refused.isEmpty(); i++) {
                Connection closing = current;
                Thread closer = new Thread(() -> {
                    try {
                        closing.close();
                    } catch (SQLException ignored) {
                        // reported by the assertion below if it matters
                    }
                });
                closer.start();
                Thread.sleep(i % 5);
                current = DriverManager.getConnection(url);
                closer.join();
                SyncNode node = current.unwrap(SyncConnection.class).node();
                String status = String.valueOf(node.status().lastError());
                try (Statement st = current.createStatement()) {
                    st.executeUpdate("INSERT INTO item (name) VALUES ('request " + i + "')");
                } catch (SQLException e) {
                    refused.add("round " + i + ": " + e.getSQLState() + " " + e.getMessage());
                }
                if (status.contains("another process")) {
                    refused.add("round " + i + ": status " + status);
                }
            }
            current.close();
            assertEquals(List.of(), refused, "a single process was taken for another one");
        }
    }

    private static String listLockFiles(Path under) throws IOException {
        List<String> found = new ArrayList<>();
        try (var s = Files.walk(under.getParent(), 3)) {
            s.filter(p -> p.getFileName().toString().endsWith("-synclock")).forEach(p -> found.add(p.toString()));
        }
        return found.toString();
    }

}
