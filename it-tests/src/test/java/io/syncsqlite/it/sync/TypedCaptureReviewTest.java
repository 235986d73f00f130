package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import io.syncsqlite.driver.sync.RemoteChange;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Review of typed capture (b108577) end to end: real relay, PostgreSQL and SQLite clients.
 */
class TypedCaptureReviewTest {

    @TempDir
    Path dir;

    private static final byte[] BYTES = {0x0A, (byte) 0xBC, 0x12, (byte) 0xEF};

    /**
     * Bytes in a column whose declared type does not have BLOB affinity ({@code VARBINARY}: NUMERIC). The
     * JSON capture refused the write ({@code json_object}: "JSON cannot hold BLOB values"). Typed capture
     * accepts it and sends {@code \x0ABC12EF}, which PostgreSQL's bytea stores as the bytes; but the echo
     * ({@code "\\x0abc12ef"}) is bound as text (LocalStore.bind turns \x.. into bytes only for BLOB
     * affinity), so the writer's own bytes become the text '\x0abc12ef' and every other client gets that
     * text: the application's value is silently changed. On the parent commit the insert is refused and
     * this test returns.
     */
    @Test
    void bytesInANonBlobColumnComeBackAsBytes() throws Exception {
        try (Cluster c = Cluster.start("typed_rev_varbinary", dir, "CREATE TABLE doc (id text PRIMARY KEY, data bytea)")) {
            String local = "CREATE TABLE doc (id TEXT PRIMARY KEY, data VARBINARY(16))";
            Client a = c.client("a", local);
            Client b = c.client("b", local);
            try {
                a.exec("INSERT INTO doc (id, data) VALUES ('d1', ?)", (Object) BYTES);
            } catch (SQLException refused) {
                return; // JSON capture (parent commit): refused up front, nothing is corrupted
            }
            a.awaitSynced();
            String q = "SELECT id, data FROM doc ORDER BY id";
            assertEquals(List.of(Map.of("id", "d1", "data", "0abc12ef")), c.pgRows(q));
            Cluster.eventually(() -> b.rows(q), r -> r.size() == 1);
            c.awaitConverged(q, a, b); // a's bytes turned into the text \x0abc12ef; b holds that text too
        }
    }

    /**
     * The same with the key: {@code id BINARY(16) PRIMARY KEY}. The typed insert reaches PostgreSQL as the
     * bytes; the echo's key is lower-case text {@code \x0abc12ef}, which neither matches the pending write
     * (RowKey folds case only for BLOB affinity) nor the stored blob key, so the client inserts a second
     * row. The writer then holds two rows where PostgreSQL holds one, for good.
     */
    @Test
    void bytesKeyInANonBlobColumnDoesNotDuplicateTheRow() throws Exception {
        try (Cluster c = Cluster.start("typed_rev_binkey", dir, "CREATE TABLE tag (id bytea PRIMARY KEY, name text)")) {
            Client a = c.client("a", "CREATE TABLE tag (id BINARY(16) PRIMARY KEY, name TEXT)");
            try {
                a.exec("INSERT INTO tag (id, name) VALUES (?, 'a')", (Object) BYTES);
            } catch (SQLException refused) {
                return; // JSON capture (parent commit): refused up front
            }
            a.awaitSynced();
            assertEquals(List.of(Map.of("n", 1L)), c.pgRows("SELECT count(*) AS n FROM tag"));
            c.awaitConverged("SELECT count(*) AS n FROM tag", a);
        }
    }

    /**
     * A pending insert with a REAL key whose JSON needs more than 15 digits (1/3: json_object writes
     * 0.33333333333333332, the decoder 0.3333333333333333) across a resync. LocalStore.endResync still keys
     * the local rows with json_object (TriggerSql.keyJson) but the pending overlay is now built from typed
     * rows, keyed by the decoder's digits: the two no longer match, so the client's own not yet settled
     * row is deleted as "not in the snapshot" and listeners are told it was removed (it comes back only
     * with the echo of the upload). On the parent both keys came from json_object and the row was kept.
     */
    @Test
    void pendingRowWithARealKeyIsNotRemovedByAResync() throws Exception {
        try (Cluster c = Cluster.start("typed_rev_realkey", dir,
                "CREATE TABLE m (k double precision PRIMARY KEY, v text)",
                "CREATE TABLE seed (id text PRIMARY KEY)",
                "CREATE TABLE later (id text PRIMARY KEY)")) {
            Client a = c.client("a", "CREATE TABLE m (k REAL PRIMARY KEY, v TEXT)",
                    "CREATE TABLE seed (id TEXT PRIMARY KEY)");
            a.exec("INSERT INTO seed (id) VALUES ('s')");
            a.awaitSynced(); // the file has a feed position, so a table synced anew means a resync
            List<RemoteChange> removed = new CopyOnWriteArrayList<>();
            a.node().addRemoteRowListener(l -> l.stream().filter(RemoteChange::deleted).forEach(removed::add));

            a.offline();
            a.exec("INSERT INTO m (k, v) VALUES (?, 'mine')", 1.0 / 3);
            a.exec("CREATE TABLE later (id TEXT PRIMARY KEY)"); // synced anew here: the next connect resyncs
            a.online();
            a.awaitSynced();

            assertEquals(List.of(), removed, "the client's own pending row was removed by the resync");
            c.awaitConverged("SELECT k, v FROM m", a);
        }
    }
}
