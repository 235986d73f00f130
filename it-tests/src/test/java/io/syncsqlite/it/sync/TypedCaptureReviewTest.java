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
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of typed capture (b108577) end to end: real relay, PostgreSQL and SQLite clients.
 */
class TypedCaptureReviewTest {

    @TempDir
    Path dir;

    /** The write is refused by the capture triggers, naming the column, and leaves nothing behind. */
    static void assertRefused(org.junit.jupiter.api.function.Executable write, String column) {
        SQLException e = assertThrows(SQLException.class, write);
        assertTrue(e.getMessage().contains("column " + column + " holds bytes, which sync only in a column declared BLOB"),
                e.getMessage());
    }

    private static final byte[] BYTES = {0x0A, (byte) 0xBC, 0x12, (byte) 0xEF};

    /**
     * Bytes in a column whose declared type does not have BLOB affinity ({@code VARBINARY}: NUMERIC). The
     * JSON capture refused the write ({@code json_object}: "JSON cannot hold BLOB values"). Typed capture
     * first accepted it and sent {@code \x0ABC12EF}, which PostgreSQL's bytea stored as the bytes; but the
     * echo ({@code "\\x0abc12ef"}) was bound as text (LocalStore.bind turns \x.. into bytes only for BLOB
     * affinity), so the writer's own bytes became the text '\x0abc12ef' and every other client got that
     * text. The triggers refuse such bytes now, and nothing of them reaches anyone.
     */
    @Test
    void bytesInANonBlobColumnComeBackAsBytes() throws Exception {
        try (Cluster c = Cluster.start("typed_rev_varbinary", dir, "CREATE TABLE doc (id text PRIMARY KEY, data bytea)")) {
            String local = "CREATE TABLE doc (id TEXT PRIMARY KEY, data VARBINARY(16))";
            Client a = c.client("a", local);
            Client b = c.client("b", local);
            assertRefused(() -> a.exec("INSERT INTO doc (id, data) VALUES ('d1', ?)", (Object) BYTES), "doc.data");
            a.exec("INSERT INTO doc (id, data) VALUES ('d2', NULL)");
            a.awaitSynced();
            String q = "SELECT id FROM doc ORDER BY id";
            assertEquals(List.of(Map.of("id", "d2")), c.pgRows(q));
            Cluster.eventually(() -> b.rows(q), r -> r.size() == 1);
            c.awaitConverged(q, a, b);
        }
    }

    /**
     * The same with the key: {@code id BINARY(16) PRIMARY KEY}. The typed insert reached PostgreSQL as the
     * bytes; the echo's key, lower-case text {@code \x0abc12ef}, matched neither the pending write (RowKey
     * folds case only for BLOB affinity) nor the stored blob key, so the client inserted a second row and
     * held two where PostgreSQL held one. Refused now.
     */
    @Test
    void bytesKeyInANonBlobColumnDoesNotDuplicateTheRow() throws Exception {
        try (Cluster c = Cluster.start("typed_rev_binkey", dir, "CREATE TABLE tag (id bytea PRIMARY KEY, name text)")) {
            Client a = c.client("a", "CREATE TABLE tag (id BINARY(16) PRIMARY KEY, name TEXT)");
            assertRefused(() -> a.exec("INSERT INTO tag (id, name) VALUES (?, 'a')", (Object) BYTES), "tag.id");
            a.awaitSynced();
            assertEquals(List.of(Map.of("n", 0L)), c.pgRows("SELECT count(*) AS n FROM tag"));
            c.awaitConverged("SELECT count(*) AS n FROM tag", a);
        }
    }

    /**
     * A pending insert with a REAL key whose JSON needs more than 15 digits (1/3: json_object writes
     * 0.33333333333333332, the decoder 0.3333333333333333) across a resync. LocalStore.endResync keyed the
     * local rows with json_object while the pending overlay was built from typed rows, keyed by the
     * decoder's digits: the two did not match, so the client's own not yet settled row was deleted as "not
     * in the snapshot" and listeners were told it was removed (it came back only with the echo of the
     * upload). Keys that are not integers now compare by their double (RowKey).
     */
    @Test
    void pendingRowWithARealKeyIsNotRemovedByAResync() throws Exception {
        try (Cluster c = Cluster.start("typed_rev_realkey", dir,
                "CREATE TABLE m (k double precision PRIMARY KEY, v text)",
                "CREATE TABLE seed (id text PRIMARY KEY)",
                "CREATE TABLE later (id text PRIMARY KEY)")) {
            Client a = c.client("a", "CREATE TABLE m (k REAL PRIMARY KEY, v TEXT)",
                    "CREATE TABLE seed (id TEXT PRIMARY KEY)");
            pendingRealKeyRowSurvivesAResync(c, a);
        }
    }

    /**
     * With {@code a} holding tables {@code m (k REAL PRIMARY KEY, v ...)} and {@code seed}, and the relay
     * also {@code later}: a row with key 1/3 inserted offline, then {@code later} created, so that the next
     * connect resyncs while the row is pending. The resync must neither remove it nor tell listeners it did.
     */
    static void pendingRealKeyRowSurvivesAResync(Cluster c, Client a) throws Exception {
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
