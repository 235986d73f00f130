package io.syncsqlite.it.sync;

import io.syncsqlite.driver.sync.Rejection;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.it.harness.TcpProxy;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.syncsqlite.it.harness.Rows.row;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * A file that is a copy of its node's (docs/DESIGN.md, "Copies of a file"): a backup restored on a new phone,
 * a cloned disk, a new file opened under a {@code sync.node} that synced before. It carries the node's id and
 * counts transaction ids on from where it was taken, so its new transactions reuse ids the relay applied for
 * the original; taken for resends, they were acknowledged and never applied. Each test writes on the copy
 * something only the copy holds, and expects it in PostgreSQL, with the original's writes on the copy.
 */
class CopiedFileTest {

    private static final String PG_NOTE = "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT NOT NULL)";
    private static final String LOCAL_NOTE = "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT NOT NULL)";
    private static final String PG_ITEM = "CREATE TABLE item (id bigserial PRIMARY KEY, name text NOT NULL)";
    private static final String LOCAL_ITEM = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL)";
    private static final String NOTES = "SELECT id, body FROM note ORDER BY id";
    private static final String ITEMS = "SELECT id, name FROM item ORDER BY id";

    @TempDir
    Path dir;

    /** Copies the closed client's file (and its log, if any) to {@code name}. */
    private Path copy(Client closed, String name) throws Exception {
        return io.syncsqlite.it.harness.SqliteFiles.copy(closed.file(), dir.resolve(name));
    }

    /**
     * The original writes and syncs {@code firstRow}, closes (its sync client stops, the log is checkpointed),
     * is copied to {@code name} and opened again; returns the copy.
     */
    private Path syncedThenCopied(Client original, String firstRow, String name) throws Exception {
        original.exec(firstRow);
        original.awaitSynced();
        original.close();
        Path copied = copy(original, name);
        original.reopen();
        return copied;
    }

    /**
     * A backup restored after the original wrote and synced more, then was lost; the restored file writes
     * offline before it first reconnects. Its writes reuse the ids of the original's last transactions.
     */
    @Test
    void aRestoredBackupKeepsTheWritesItMadeBeforeReconnecting() throws Exception {
        try (Cluster c = Cluster.start("copy_restore", dir, PG_NOTE)) {
            Client phone = c.client("phone", LOCAL_NOTE);
            Path backup = syncedThenCopied(phone, "INSERT INTO note VALUES ('a', 'before the backup')", "backup.db");
            phone.exec("INSERT INTO note VALUES ('b', 'after the backup')");
            phone.exec("UPDATE note SET body = 'changed after the backup' WHERE id = 'a'");
            phone.awaitSynced();
            phone.close(); // the phone is lost

            TcpProxy link = c.proxy();
            link.online(false);
            Client restored = c.open("phone", backup, link);
            restored.exec("INSERT INTO note VALUES ('c', 'on the restored phone')");
            restored.exec("INSERT INTO note VALUES ('d', 'also on the restored phone')");
            link.online(true);
            restored.awaitSynced();
            c.awaitConverged(NOTES, restored);
            assertEquals(List.of(row("id", "a", "body", "changed after the backup"),
                    row("id", "b", "body", "after the backup"), row("id", "c", "body", "on the restored phone"),
                    row("id", "d", "body", "also on the restored phone")), c.pgRows(NOTES));
            assertNotEquals("phone", restored.node().nodeId(), "the copy syncs under a node id of its own");
        }
    }

    /**
     * The same restore, connecting before it writes: it takes its own node id at the welcome (the relay applied
     * transactions past any this file wrote) and drops the key ranges the original was handing out, so its
     * keyless inserts do not take keys the original already gave its rows.
     */
    @Test
    void aRestoredBackupGivesItsNewRowsKeysTheOriginalDidNotUse() throws Exception {
        try (Cluster c = Cluster.start("copy_keys", dir, PG_ITEM)) {
            Client phone = c.client("phone", LOCAL_ITEM);
            Path backup = syncedThenCopied(phone, "INSERT INTO item (name) VALUES ('before the backup')", "backup.db");
            phone.exec("INSERT INTO item (name) VALUES ('after the backup 1')");
            phone.exec("INSERT INTO item (name) VALUES ('after the backup 2')");
            phone.awaitSynced();
            phone.close();

            Client restored = c.open("phone", backup, c.proxy());
            Cluster.eventually(() -> restored.node().nodeId(), id -> !id.equals("phone"));
            restored.exec("INSERT INTO item (name) VALUES ('on the restored phone')");
            restored.awaitSynced();
            c.awaitConverged(ITEMS, restored);
            List<Object> names = c.pgRows(ITEMS).stream().map(r -> r.get("name")).toList();
            assertEquals(List.of("before the backup", "after the backup 1", "after the backup 2",
                    "on the restored phone"), names);
        }
    }

    /**
     * Two live copies (a cloned VM): both connected, the original commits first, then the copy commits a
     * transaction with the same id. The relay refuses it as a copy's (4409) instead of acknowledging it as a
     * resend; the copy takes its own id and sends it again. Both keep syncing afterwards.
     */
    @Test
    void twoLiveCopiesBothKeepTheirWrites() throws Exception {
        try (Cluster c = Cluster.start("copy_live", dir, PG_NOTE)) {
            Client vm = c.client("vm", LOCAL_NOTE);
            Path clonedFile = syncedThenCopied(vm, "INSERT INTO note VALUES ('a', 'before the clone')", "clone.db");
            Client clone = c.open("vm", clonedFile, c.proxy());
            List<Rejection> rejections = new CopyOnWriteArrayList<>();
            clone.node().addRejectionListener(rejections::add);
            vm.awaitSynced();
            clone.awaitSynced();

            vm.exec("INSERT INTO note VALUES ('b', 'on the original')");
            vm.awaitSynced();
            clone.exec("INSERT INTO note VALUES ('c', 'on the clone')");
            clone.awaitSynced();
            vm.exec("INSERT INTO note VALUES ('d', 'on the original again')");
            clone.exec("INSERT INTO note VALUES ('e', 'on the clone again')");
            vm.awaitSynced();
            clone.awaitSynced();
            c.awaitConverged(NOTES, vm, clone);
            assertEquals(List.of("a", "b", "c", "d", "e"),
                    c.pgRows(NOTES).stream().map(r -> r.get("id")).toList());
            assertEquals(List.of(), rejections);
            assertEquals("vm", vm.node().nodeId(), "the original keeps its id");
            assertNotEquals("vm", clone.node().nodeId());
        }
    }

    /**
     * A restored backup writing offline through {@code INSERT ... RETURNING} in auto-commit mode, which the
     * driver cannot stamp inside the statement (its rows are read after the call returns): the sync client
     * stamps them when it is nudged, connected. Rows without a stamp at the copy's first connection are taken
     * for ones the original stamped and sent, and dropped from its outbox (a read-only review found it).
     * Stamping them before the connection's next statement was tried and withdrawn: that statement may run
     * while the RETURNING statement is still open, and the stamp's COMMIT then fails (ReviewFindingsTest).
     */
    @Disabled("Known limit (DESIGN.md, \"Copies of a file\"): a copy cannot tell its own unstamped rows (an offline"
            + " auto-commit INSERT ... RETURNING, another program's writes) from the original's")
    @Test
    void aRestoredBackupKeepsRowsItInsertedOfflineWithReturning() throws Exception {
        try (Cluster c = Cluster.start("copy_returning", dir, PG_NOTE)) {
            Client phone = c.client("phone", LOCAL_NOTE);
            Path backup = syncedThenCopied(phone, "INSERT INTO note VALUES ('a', 'before the backup')", "backup.db");
            for (int i = 0; i < 4; i++) {
                phone.exec("INSERT INTO note VALUES (?, 'after the backup')", "b" + i);
            }
            phone.awaitSynced();
            phone.close();

            TcpProxy link = c.proxy();
            link.online(false);
            Client restored = c.open("phone", backup, link);
            try (java.sql.PreparedStatement ps = restored.connection().prepareStatement(
                    "INSERT INTO note VALUES ('r', 'returned offline') RETURNING id");
                 java.sql.ResultSet rs = ps.executeQuery()) {
                assertEquals(true, rs.next());
                assertEquals("r", rs.getString(1));
            }
            restored.rows("SELECT count(*) FROM note"); // the connection's next statement
            link.online(true);
            restored.awaitSynced();
            c.awaitConverged(NOTES, restored);
            assertEquals(List.of("a", "b0", "b1", "b2", "b3", "r"),
                    c.pgRows(NOTES).stream().map(r -> r.get("id")).toList());
        }
    }

    /**
     * Two copies used offline at the same time (a phone restored from a backup while the old one is still
     * used), their writes interleaved in time, the original syncing first. The copy's first transaction is
     * stamped between two of the original's under an id the relay applied for the first of them: by the
     * clock of the last applied transaction alone it passes for a resend; by the clock recorded for its id
     * it does not.
     */
    @Test
    void copiesWritingOfflineAtTheSameTimeKeepEveryWrite() throws Exception {
        try (Cluster c = Cluster.start("copy_interleaved", dir, PG_NOTE)) {
            Client phone = c.client("phone", LOCAL_NOTE);
            Path backup = syncedThenCopied(phone, "INSERT INTO note VALUES ('a', 'before the backup')", "backup.db");
            Client restored = c.open("phone", backup, c.proxy());
            phone.awaitSynced();
            restored.awaitSynced();
            phone.offline();
            restored.offline();
            phone.exec("INSERT INTO note VALUES ('b1', 'old phone, morning')");
            Thread.sleep(5);
            restored.exec("INSERT INTO note VALUES ('c1', 'new phone, noon')");
            Thread.sleep(5);
            phone.exec("INSERT INTO note VALUES ('b2', 'old phone, evening')");
            Thread.sleep(5);
            restored.exec("INSERT INTO note VALUES ('c2', 'new phone, night')");
            phone.online();
            phone.awaitSynced();
            restored.online();
            restored.awaitSynced();
            phone.awaitSynced();
            c.awaitConverged(NOTES, phone, restored);
            assertEquals(List.of("a", "b1", "b2", "c1", "c2"),
                    c.pgRows(NOTES).stream().map(r -> r.get("id")).toList());
        }
    }

    /**
     * An application that configures {@code sync.node} (a device id) and starts over with a new file after
     * its data was wiped: the new file's first transactions reuse ids the relay applied for the old one. It
     * takes a node id of its own, and opening it again with the same {@code sync.node} keeps that id.
     */
    @Test
    void aNewFileUnderASyncNodeThatSyncedBeforeKeepsItsWrites() throws Exception {
        try (Cluster c = Cluster.start("copy_reinstall", dir, PG_NOTE)) {
            Client app = c.client("device-7", LOCAL_NOTE);
            for (int i = 0; i < 3; i++) {
                app.exec("INSERT INTO note VALUES (?, 'first install')", "old" + i);
            }
            app.awaitSynced();
            app.close();
            for (String suffix : new String[] {"", "-wal", "-shm"}) {
                Files.deleteIfExists(Path.of(app.file() + suffix));
            }

            Client fresh = c.client("device-7", LOCAL_NOTE);
            fresh.exec("INSERT INTO note VALUES ('new', 'second install')");
            fresh.awaitSynced();
            c.awaitConverged(NOTES, fresh);
            assertEquals(List.of("new", "old0", "old1", "old2"),
                    c.pgRows(NOTES).stream().map(r -> r.get("id")).toList());
            String ownId = fresh.node().nodeId();
            assertNotEquals("device-7", ownId);

            fresh.reopen();
            assertEquals(ownId, fresh.node().nodeId(), "the file keeps the id it took");
            fresh.exec("INSERT INTO note VALUES ('newer', 'after a restart')");
            fresh.awaitSynced();
            c.awaitConverged(NOTES, fresh);
            assertEquals(ownId, fresh.node().nodeId(), "a file that took its own id is not a copy of itself");
            assertEquals(5, c.pgRows(NOTES).size());
        }
    }
}
