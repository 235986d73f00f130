package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Rows with a large value (a 256 KB photo) whose other columns change often: an update's capture holds only the columns
 * it changed, so a visit counter bumped 50 times does not copy the photo 50 times into the outbox (it did: 200 updates
 * on rows of 2 MB photos wrote 450 MB and took 3.5 times sqlite-jdbc's time). What syncs is unchanged: the changed
 * columns, a column set to NULL, the photo when it is the one that changes, and concurrent edits of different columns
 * merging in PostgreSQL and on both devices.
 */
class LargeValuesUpdateTest {

    private static final String LOCAL = "CREATE TABLE contact (id INTEGER PRIMARY KEY, name TEXT,"
            + " visits INTEGER NOT NULL DEFAULT 0, photo BLOB)";

    @TempDir
    Path dir;

    private static byte[] photo(int seed) {
        byte[] b = new byte[1 << 18];
        Arrays.fill(b, (byte) seed);
        b[0] = 1;
        return b;
    }

    @Test
    void updatesOfSmallColumnsDoNotCopyThePhotoAndEverythingStillSyncs() throws Exception {
        try (Cluster cluster = Cluster.start("photos", dir,
                "CREATE TABLE contact (id bigint PRIMARY KEY, name text, visits int NOT NULL DEFAULT 0, photo bytea)")) {
            Client a = cluster.client("a", LOCAL);
            Client b = cluster.client("b", LOCAL);
            a.exec("INSERT INTO contact (id, name, visits, photo) VALUES (1, 'ann', 0, ?)", (Object) photo(7));
            a.awaitSynced();
            b.awaitSynced();

            a.offline();
            long before = outboxBytes(a);
            for (int i = 0; i < 50; i++) {
                a.exec("UPDATE contact SET visits = visits + 1 WHERE id = 1");
            }
            long grown = outboxBytes(a) - before;
            assertTrue(grown < 50 * 1024, "50 updates of the counter grew the outbox by " + grown + " bytes");
            a.exec("UPDATE contact SET name = NULL WHERE id = 1"); // a NULL written is sent, not taken for "unchanged"
            b.exec("UPDATE contact SET photo = ? WHERE id = 1", (Object) photo(9)); // meanwhile, the photo elsewhere
            a.online();
            a.awaitSynced();
            b.awaitSynced();

            cluster.awaitConverged("SELECT id, name, visits, length(photo) AS n FROM contact", a, b);
            Map<String, Object> pg = cluster.pgRows("SELECT name, visits, md5(photo) AS h FROM contact WHERE id = 1").get(0);
            assertEquals(null, pg.get("name"));
            assertEquals(50, ((Number) pg.get("visits")).intValue());
            assertEquals(java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("MD5").digest(photo(9))),
                    pg.get("h"));
            for (Client c : List.of(a, b)) { // Rows gives bytes as hex text
                Map<String, Object> row = c.rows("SELECT name, visits, photo FROM contact WHERE id = 1").get(0);
                assertEquals(null, row.get("name"), c.name());
                assertEquals(50, ((Number) row.get("visits")).intValue(), c.name());
                assertEquals(java.util.HexFormat.of().formatHex(photo(9)), String.valueOf(row.get("photo")).toLowerCase(),
                        c.name());
            }
        }
    }

    /** The outbox's stored bytes, read with plain sqlite-jdbc. */
    private static long outboxBytes(Client c) throws Exception {
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + c.file());
             Statement st = raw.createStatement();
             ResultSet rs = st.executeQuery("SELECT coalesce(sum(coalesce(length(v0), 0) + coalesce(length(v1), 0)"
                     + " + coalesce(length(v2), 0) + coalesce(length(v3), 0)), 0) FROM _sync_outbox")) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
