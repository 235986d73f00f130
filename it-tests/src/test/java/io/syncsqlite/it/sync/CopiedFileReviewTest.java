package io.syncsqlite.it.sync;

import io.syncsqlite.driver.sync.Rejection;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.it.harness.PeerProcess;
import io.syncsqlite.it.harness.TcpProxy;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.Hlc;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of "Copies of a file" (docs/DESIGN.md): a file must never be taken for a copy of itself (its node id
 * kept, nothing applied twice), and a real copy must never lose a write. Every test ends with PostgreSQL and
 * each live file holding the same rows.
 *
 * <p>Applies are counted in PostgreSQL by an audit trigger: a transaction applied twice (a resend taken for a
 * copy's and sent again under a new node id) adds a second audit row even when it changes no value.
 */
class CopiedFileReviewTest {

    private static final String PG_NOTE = "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT NOT NULL)";
    private static final String LOCAL_NOTE = "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT NOT NULL)";
    private static final String PG_AUDIT = "CREATE TABLE audit (n bigserial PRIMARY KEY, note text, op text)";
    private static final String PG_AUDIT_FN = "CREATE FUNCTION audit_note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            + " INSERT INTO audit (note, op) VALUES (coalesce(NEW.id, OLD.id), TG_OP); RETURN NULL; END $$";
    private static final String PG_AUDIT_TRIGGER = "CREATE TRIGGER audit_note AFTER INSERT OR UPDATE OR DELETE ON note"
            + " FOR EACH ROW EXECUTE FUNCTION audit_note()";
    private static final String PG_ACCT = "CREATE TABLE acct (id BIGINT PRIMARY KEY, name TEXT, balance BIGINT NOT NULL DEFAULT 0)";
    private static final String LOCAL_ACCT = "CREATE TABLE acct (id INTEGER PRIMARY KEY, name TEXT, balance INTEGER NOT NULL DEFAULT 0)";
    private static final String PG_ITEM = "CREATE TABLE item (id bigserial PRIMARY KEY, name text NOT NULL)";
    private static final String LOCAL_ITEM = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL)";
    private static final String NOTES = "SELECT id, body FROM note ORDER BY id";
    private static final String ACCTS = "SELECT id, name, balance FROM acct ORDER BY id";
    private static final String ITEMS = "SELECT id, name FROM item ORDER BY id";

    @TempDir
    Path dir;

    // ---------------------------------------------------------------------------------------------- helpers

    /** Copies the closed client's file (and its log, if any) to {@code name}. */
    private Path copy(Client closed, String name) throws Exception {
        return copyFile(closed.file(), name);
    }

    private Path copyFile(Path from, String name) throws Exception {
        return io.syncsqlite.it.harness.SqliteFiles.copy(from, dir.resolve(name));
    }

    /**
     * Lets the client (offline until now) connect through a slow link, waits until PostgreSQL committed what
     * {@code applied} waits for, and cuts the link before the acknowledgements, held in the proxy, arrive: the
     * relay applied the transactions, the client never heard. The link is then normal again.
     */
    private static void connectAndLoseTheAnswers(TcpProxy link, Callable<Boolean> applied) throws Exception {
        link.latency(1000);
        link.online(true);
        await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(10)).until(applied);
        link.online(false);
        link.latency(0);
        link.online(true);
    }

    /** How many times the relay wrote note {@code id} (insert or update). */
    private static long applies(Cluster c, String id) throws Exception {
        try (Connection pg = c.pg(); Statement st = pg.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM audit WHERE note = '" + id + "'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static long appliedTx(Cluster c, String node) throws Exception {
        try (Connection pg = c.pg(); Statement st = pg.createStatement();
             ResultSet rs = st.executeQuery("SELECT applied_tx FROM syncsqlite.client WHERE node = '" + node + "'")) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    /** The stamped transaction markers of a file, {seq, hlc}, read through plain SQLite. */
    private static List<long[]> markers(Path file) throws Exception {
        return io.syncsqlite.it.harness.SqliteFiles.markers(file);
    }

    /**
     * Another device, whose clock runs {@code aheadMs} ahead, writes note {@code id} (through the raw protocol):
     * every node that applies it moves its hybrid clock that far ahead, as the HLC is meant to.
     */
    private static void fastDeviceWrites(Cluster c, String id, long aheadMs) throws Exception {
        fastDeviceWrites(c, "note", obj("id", id), obj("body", "from a device whose clock is fast"), aheadMs);
    }

    private static void fastDeviceWrites(Cluster c, String table, com.fasterxml.jackson.databind.node.ObjectNode pk,
                                         com.fasterxml.jackson.databind.node.ObjectNode values, long aheadMs)
            throws Exception {
        TcpProxy p = c.proxy();
        TestClient fast = TestClient.connect(URI.create(p.wsUrl()));
        try {
            fast.hello("fast-clock-device", 0);
            fast.push(tx(1, Hlc.ofMillis(System.currentTimeMillis() + aheadMs), insert(table, pk, values)));
            fast.awaitAck(1);
        } finally {
            fast.close();
        }
    }

    private static void awaitRow(Client cl, String sql) {
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).until(() -> !cl.rows(sql).isEmpty());
    }

    private static Cluster notes(String name, Path dir) {
        return Cluster.start(name, dir, PG_NOTE, PG_AUDIT, PG_AUDIT_FN, PG_AUDIT_TRIGGER).clientParams("&sync.tables=note");
    }

    private static List<Object> ids(List<Map<String, Object>> rows) {
        return rows.stream().map(r -> r.get("id")).toList();
    }

    // ------------------------------------------------------------------------------------- false positives

    /**
     * Lost acknowledgements of many small offline transactions. A demanding user expects the file to stay
     * node {@code phone} and every transaction applied exactly once: after the answers are lost, the welcome's
     * appliedTx is this very file's last transaction, and its pending ones, checked against the relay's
     * recorded clocks, are true resends.
     */
    @Test
    void lostAcknowledgementsOfManyOfflineTransactionsDoNotMakeTheFileACopy() throws Exception {
        try (Cluster c = notes("rv_copy_lostacks", dir)) {
            Client phone = c.client("phone", LOCAL_NOTE);
            phone.exec("INSERT INTO note VALUES ('first', 'online')");
            phone.awaitSynced();
            phone.offline();
            for (int i = 0; i < 25; i++) {
                phone.exec("INSERT INTO note VALUES (?, 'offline')", String.format("n%02d", i));
            }
            phone.exec("UPDATE note SET body = 'offline update' WHERE id = 'first'");
            connectAndLoseTheAnswers(phone.proxy(), () -> c.pgRows("SELECT body FROM note WHERE id = 'first'")
                    .equals(List.of(Map.of("body", "offline update"))));
            phone.awaitSynced();
            c.awaitConverged(NOTES, phone);
            assertEquals("phone", phone.node().nodeId(), "the file is not a copy of itself");
            for (int i = 0; i < 25; i++) {
                assertEquals(1, applies(c, String.format("n%02d", i)), "n" + i + " applied once");
            }
            assertEquals(2, applies(c, "first"));
        }
    }

    /**
     * Counter increments made offline, their acknowledgements lost, then a relay restart before the client
     * is back. A demanding user expects each increment counted once in PostgreSQL and the node id kept.
     */
    @Test
    void lostAcknowledgementsOfCounterIncrementsAndARelayRestartCountEachIncrementOnce() throws Exception {
        try (Cluster c = Cluster.start("rv_copy_counter", dir, PG_ACCT).clientParams("&sync.tables=acct")) {
            Client phone = c.client("phone", LOCAL_ACCT);
            phone.exec("INSERT INTO acct (id, name, balance) VALUES (1, 'a', 0)");
            phone.awaitSynced();
            phone.offline();
            for (int i = 0; i < 20; i++) {
                phone.exec("UPDATE acct SET balance = balance + 1 WHERE id = 1");
            }
            connectAndLoseTheAnswers(phone.proxy(), () -> Long.valueOf(20).equals(
                    c.pgRows("SELECT balance FROM acct WHERE id = 1").get(0).get("balance")));
            phone.offline();
            c.restartRelay();
            phone.online();
            phone.awaitSynced();
            c.awaitConverged(ACCTS, phone);
            assertEquals(List.of(Map.of("id", 1L, "name", "a", "balance", 20L)), c.pgRows(ACCTS));
            assertEquals("phone", phone.node().nodeId());
        }
    }

    /**
     * A transaction PostgreSQL refuses (a CHECK only PostgreSQL has) among offline transactions, all answers
     * lost. A demanding user expects the rejection reported once, the others applied once, the file to keep
     * its node id (the relay recorded the rejected id as applied, with its clock), and the file equal to
     * PostgreSQL.
     */
    @Test
    void aRejectionWhoseAnswerWasLostDoesNotMakeTheFileACopy() throws Exception {
        try (Cluster c = Cluster.start("rv_copy_reject", dir,
                "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT NOT NULL CHECK (body <> 'bad'))",
                PG_AUDIT, PG_AUDIT_FN, PG_AUDIT_TRIGGER).clientParams("&sync.tables=note")) {
            Client phone = c.client("phone", LOCAL_NOTE);
            List<Rejection> rejections = new CopyOnWriteArrayList<>();
            phone.node().addRejectionListener(rejections::add);
            phone.exec("INSERT INTO note VALUES ('a', 'fine')");
            phone.awaitSynced();
            phone.offline();
            phone.exec("INSERT INTO note VALUES ('b', 'fine')");
            phone.exec("INSERT INTO note VALUES ('x', 'bad')");
            phone.exec("INSERT INTO note VALUES ('c', 'fine')");
            long last = markers(phone.file()).stream().mapToLong(m -> m[0]).max().orElseThrow();
            connectAndLoseTheAnswers(phone.proxy(), () -> appliedTx(c, "phone") >= last);
            phone.awaitSynced();
            c.awaitConverged(NOTES, phone);
            assertEquals(List.of("a", "b", "c"), ids(c.pgRows(NOTES)));
            assertEquals("phone", phone.node().nodeId());
            assertEquals(1, rejections.size(), rejections.toString());
            assertEquals(1, applies(c, "b"));
            assertEquals(1, applies(c, "c"));
        }
    }

    /**
     * Two processes on one file (the application and a second JVM, DESIGN "Sharing the file with the
     * application"), both writing while the syncing one is offline, after the feed brought a change stamped by
     * a device whose clock runs three minutes fast (the relay accepts up to ten). Then the answers to the push
     * are lost. A demanding user expects the file to keep its node id and each transaction applied once: it is
     * one file, not a copy.
     *
     * <p>The design assumes "in one file transaction ids and clocks grow together", but each process stamped
     * with its own clock: the non-syncing one followed only {@code _sync_state.hlc}, which moves on feed
     * applies, never on the other process's stamps. Its transaction got a later id and an earlier clock than
     * the syncing process's, and the welcome's test (then: the last applied clock alone) found the file's own
     * resends "from a copy". Both are fixed: the relay compares each resend with its own recorded clock, and
     * a process reads the file's newest stamp before its own.
     */
    @Test
    void twoProcessesOnOneFileAreNotTakenForCopiesOfEachOther() throws Exception {
        try (Cluster c = Cluster.start("rv_copy_shared", dir, PG_ACCT).clientParams("&sync.tables=acct")) {
            Client app = c.client("shared", LOCAL_ACCT);
            app.exec("INSERT INTO acct (id, name, balance) VALUES (1, 'counter', 0)");
            app.awaitSynced();
            PeerProcess.Handle peer = c.closeWith(PeerProcess.start(c.url("shared", app.file(), c.proxy()),
                    dir.resolve("peer-shared.log")));
            assertTrue(peer.call("status").contains("another process syncs this file"), peer.call("status"));

            fastDeviceWrites(c, "acct", obj("id", 99), obj("name", "fast", "balance", 0), 180_000);
            awaitRow(app, "SELECT 1 FROM acct WHERE id = 99");

            app.offline();
            app.exec("UPDATE acct SET balance = balance + 1 WHERE id = 1");
            app.exec("UPDATE acct SET balance = balance + 10 WHERE id = 1");
            String wrote = peer.call("exec UPDATE acct SET balance = balance + 100 WHERE id = 1");
            assertTrue(wrote.startsWith("ok"), wrote);
            List<long[]> m = markers(app.file());
            long[] y = m.get(m.size() - 1);
            long[] x2 = m.get(m.size() - 2);
            // The review found the other process's later transaction stamped with an earlier clock; now it
            // reads the file's newest stamp before its own (Outbox.NEWEST_CLOCK).
            assertTrue(y[0] > x2[0] && y[1] > x2[1], "y " + y[0] + "@" + y[1] + " after x2 " + x2[0] + "@" + x2[1]);

            connectAndLoseTheAnswers(app.proxy(), () -> appliedTx(c, "shared") >= y[0]);
            app.awaitSynced();
            assertEquals("ok true", peer.call("synced"));
            c.awaitConverged(ACCTS, app);
            // One file shared by two processes is not a copy: same node id, each increment counted once.
            assertEquals("node shared, balance 111", "node " + app.node().nodeId() + ", balance "
                    + c.pgRows("SELECT balance FROM acct WHERE id = 1").get(0).get("balance"));
        }
    }

    // -------------------------------------------------------------------------------- false negatives: loss

    /**
     * A backup restored after the original wrote and synced more, the original having seen a change from a
     * device whose clock runs three minutes fast (the HLC carries that forward). The restored file writes
     * offline, after (in real time) everything the original wrote, then connects. A demanding user expects the
     * restored phone's row in PostgreSQL: the design promises the test is "complete for a copy that writes
     * after the original's last applied transaction, which a restored backup does".
     */
    @Test
    void aRestoredBackupKeepsItsWritesWhenTheOriginalsClockRanAhead() throws Exception {
        try (Cluster c = notes("rv_copy_skew", dir)) {
            Client phone = c.client("phone", LOCAL_NOTE);
            phone.exec("INSERT INTO note VALUES ('a', 'before the backup')");
            phone.awaitSynced();
            phone.close();
            Path backup = copy(phone, "backup.db");
            phone.reopen();
            fastDeviceWrites(c, "z", 180_000);
            awaitRow(phone, "SELECT 1 FROM note WHERE id = 'z'");
            phone.exec("INSERT INTO note VALUES ('b', 'after the backup')");
            phone.exec("INSERT INTO note VALUES ('c', 'after the backup')");
            phone.awaitSynced();
            phone.close(); // the phone is lost

            TcpProxy link = c.proxy();
            link.online(false);
            Client restored = c.open("phone", backup, link);
            restored.exec("INSERT INTO note VALUES ('d', 'on the restored phone')");
            link.online(true);
            boolean arrived;
            try {
                await().atMost(Duration.ofSeconds(15)).until(() -> !c.pgRows("SELECT 1 FROM note WHERE id = 'd'").isEmpty());
                arrived = true;
            } catch (org.awaitility.core.ConditionTimeoutException e) {
                arrived = false;
            }
            assertTrue(arrived, "the restored phone's row d never reached PostgreSQL; node " + restored.node().nodeId()
                    + ", status " + restored.node().status() + ", PostgreSQL " + ids(c.pgRows(NOTES))
                    + ", the file " + ids(restored.rows(NOTES)));
            c.awaitConverged(NOTES, restored);
        }
    }

    /**
     * A restored backup whose offline writes are a counter increment on a row the original also incremented
     * after the backup, an update of a row the original updated, and a delete. A demanding user expects all
     * of them in PostgreSQL: the counter holds both increments.
     */
    @Test
    void aRestoredBackupsCounterUpdateAndDeleteAllReachPostgres() throws Exception {
        try (Cluster c = Cluster.start("rv_copy_mixed", dir, PG_ACCT).clientParams("&sync.tables=acct")) {
            Client phone = c.client("phone", LOCAL_ACCT);
            phone.exec("INSERT INTO acct (id, name, balance) VALUES (1, 'one', 0)");
            phone.exec("INSERT INTO acct (id, name, balance) VALUES (2, 'two', 0)");
            phone.exec("INSERT INTO acct (id, name, balance) VALUES (3, 'three', 0)");
            phone.awaitSynced();
            phone.close();
            Path backup = copy(phone, "backup.db");
            phone.reopen();
            phone.exec("UPDATE acct SET balance = balance + 10 WHERE id = 1");
            phone.exec("UPDATE acct SET name = 'two on the original' WHERE id = 2");
            phone.awaitSynced();
            phone.close();

            TcpProxy link = c.proxy();
            link.online(false);
            Client restored = c.open("phone", backup, link);
            restored.exec("UPDATE acct SET balance = balance + 1 WHERE id = 1");
            restored.exec("UPDATE acct SET name = 'two on the restored phone' WHERE id = 2");
            restored.exec("DELETE FROM acct WHERE id = 3");
            link.online(true);
            restored.awaitSynced();
            c.awaitConverged(ACCTS, restored);
            assertEquals(List.of(Map.of("id", 1L, "name", "one", "balance", 11L),
                    Map.of("id", 2L, "name", "two on the restored phone", "balance", 0L)), c.pgRows(ACCTS));
            assertNotEquals("phone", restored.node().nodeId());
        }
    }

    /**
     * The same backup restored twice (two new phones), each writing offline; then a copy of the first
     * restored file, taken after it synced under its own id and wrote more, restored again (a copy of a copy),
     * opened with the original {@code sync.node}. A demanding user expects every write in PostgreSQL and all
     * live files equal to it.
     */
    @Test
    void aBackupRestoredTwiceAndACopyOfACopyKeepAllTheirWrites() throws Exception {
        try (Cluster c = notes("rv_copy_twice", dir)) {
            Client phone = c.client("phone", LOCAL_NOTE);
            phone.exec("INSERT INTO note VALUES ('a', 'before the backup')");
            phone.awaitSynced();
            phone.close();
            Path backup = copy(phone, "backup.db");
            Path backup2 = copy(phone, "backup2.db");
            phone.reopen();
            phone.exec("INSERT INTO note VALUES ('b', 'after the backup')");
            phone.awaitSynced();
            phone.close();

            TcpProxy l1 = c.proxy();
            TcpProxy l2 = c.proxy();
            l1.online(false);
            l2.online(false);
            Client r1 = c.open("phone", backup, l1);
            r1.exec("INSERT INTO note VALUES ('r1', 'first restore')");
            Client r2 = c.open("phone", backup2, l2);
            r2.exec("INSERT INTO note VALUES ('r2', 'second restore')");
            l1.online(true);
            r1.awaitSynced();
            l2.online(true);
            r2.awaitSynced();
            String id1 = r1.node().nodeId();
            assertNotEquals("phone", id1);
            assertNotEquals("phone", r2.node().nodeId());
            assertNotEquals(id1, r2.node().nodeId());

            // A copy of r1's file (its own id now), restored after r1 wrote more.
            r1.close();
            Path copyOfCopy = copy(r1, "copy-of-copy.db");
            r1.reopen();
            r1.exec("INSERT INTO note VALUES ('r1b', 'first restore, later')");
            r1.awaitSynced();
            TcpProxy l3 = c.proxy();
            l3.online(false);
            Client r3 = c.open("phone", copyOfCopy, l3);
            r3.exec("INSERT INTO note VALUES ('r3', 'copy of the first restore')");
            l3.online(true);
            r3.awaitSynced();
            c.awaitConverged(NOTES, r1, r2, r3);
            assertEquals(List.of("a", "b", "r1", "r1b", "r2", "r3"), ids(c.pgRows(NOTES)));
            assertEquals(id1, r1.node().nodeId(), "the first restore keeps the id it took");
            assertNotEquals(id1, r3.node().nodeId());
            assertNotEquals("phone", r3.node().nodeId());
        }
    }

    /**
     * A copy taken while the original had offline transactions not yet sent (counter increments); the
     * original then sends them and writes more; the copy, restored, writes and connects. A demanding user
     * expects the shared increments counted once (the copy's copies of them are true resends) and the
     * copy's own increment counted too.
     */
    @Test
    void aCopyTakenWithUnsentTransactionsSettlesThemOnceAndKeepsItsOwn() throws Exception {
        try (Cluster c = Cluster.start("rv_copy_unsent", dir, PG_ACCT).clientParams("&sync.tables=acct")) {
            Client phone = c.client("phone", LOCAL_ACCT);
            phone.exec("INSERT INTO acct (id, name, balance) VALUES (1, 'one', 0)");
            phone.awaitSynced();
            phone.offline();
            phone.exec("UPDATE acct SET balance = balance + 1 WHERE id = 1");
            phone.exec("UPDATE acct SET balance = balance + 2 WHERE id = 1");
            phone.close();
            Path backup = copy(phone, "backup.db");
            phone.reopen();
            phone.online();
            phone.awaitSynced();
            phone.exec("UPDATE acct SET balance = balance + 4 WHERE id = 1");
            phone.awaitSynced();
            phone.close();

            TcpProxy link = c.proxy();
            link.online(false);
            Client restored = c.open("phone", backup, link);
            restored.exec("UPDATE acct SET balance = balance + 100 WHERE id = 1");
            link.online(true);
            restored.awaitSynced();
            c.awaitConverged(ACCTS, restored);
            assertEquals(107L, c.pgRows("SELECT balance FROM acct WHERE id = 1").get(0).get("balance"));
        }
    }

    /**
     * A disk cloned while the application ran: the file and its uncheckpointed WAL copied with the connection
     * open (the WAL holds the latest transactions). The original writes more and syncs; the clone writes and
     * connects. A demanding user expects both sets of writes in PostgreSQL and the clone on an id of its own.
     */
    @Test
    void aCloneTakenWithAnUncheckpointedWalKeepsItsWrites() throws Exception {
        try (Cluster c = notes("rv_copy_wal", dir)) {
            Client vm = c.client("vm", LOCAL_NOTE);
            vm.exec("INSERT INTO note VALUES ('a', 'before the clone')");
            vm.exec("INSERT INTO note VALUES ('b', 'before the clone')");
            vm.awaitSynced();
            assertTrue(Files.exists(Path.of(vm.file() + "-wal")), "the WAL is there");
            Path cloned = copyFile(vm.file(), "clone.db");
            vm.exec("INSERT INTO note VALUES ('c', 'on the original after the clone')");
            vm.awaitSynced();

            TcpProxy link = c.proxy();
            link.online(false);
            Client clone = c.open("vm", cloned, link);
            clone.exec("INSERT INTO note VALUES ('d', 'on the clone')");
            link.online(true);
            clone.awaitSynced();
            vm.exec("INSERT INTO note VALUES ('e', 'on the original again')");
            vm.awaitSynced();
            c.awaitConverged(NOTES, vm, clone);
            assertEquals(List.of("a", "b", "c", "d", "e"), ids(c.pgRows(NOTES)));
            assertEquals("vm", vm.node().nodeId());
            assertNotEquals("vm", clone.node().nodeId());
        }
    }

    /**
     * A restored backup inserting keyless rows offline (INTEGER PRIMARY KEY, bigserial in PostgreSQL) before
     * it first reconnects, after the original gave keys of the same stored range to rows of its own. A
     * demanding user expects every row, as inserted, in PostgreSQL (plain SQLite never merges two inserts).
     * DESIGN.md names this gap ("Copies of a file": the copy's rows overwrite the original's).
     */
    @Disabled("Known limit (DESIGN.md, \"Copies of a file\"): keys a copy took offline from the ranges it shares"
            + " with the original may be ones the original gave its own rows; the relay does not record grants per node")
    @Test
    void aRestoredBackupsOfflineKeylessInsertsDoNotMergeWithTheOriginalsRows() throws Exception {
        try (Cluster c = Cluster.start("rv_copy_keyless", dir, PG_ITEM).clientParams("&sync.tables=item")) {
            Client phone = c.client("phone", LOCAL_ITEM);
            phone.exec("INSERT INTO item (name) VALUES ('before the backup')");
            phone.awaitSynced();
            phone.close();
            Path backup = copy(phone, "backup.db");
            phone.reopen();
            phone.exec("INSERT INTO item (name) VALUES ('original 1')");
            phone.exec("INSERT INTO item (name) VALUES ('original 2')");
            phone.awaitSynced();
            phone.close();

            TcpProxy link = c.proxy();
            link.online(false);
            Client restored = c.open("phone", backup, link);
            restored.exec("INSERT INTO item (name) VALUES ('restored 1')");
            restored.exec("INSERT INTO item (name) VALUES ('restored 2')");
            link.online(true);
            restored.awaitSynced();
            c.awaitConverged(ITEMS, restored);
            List<Object> names = c.pgRows(ITEMS).stream().map(r -> r.get("name")).sorted().toList();
            assertEquals(List.of("before the backup", "original 1", "original 2", "restored 1", "restored 2"), names);
        }
    }
}
