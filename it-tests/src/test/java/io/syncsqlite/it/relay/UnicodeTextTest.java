package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.FeedEntry;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Text beyond ASCII (two-, three- and four-byte UTF-8, quotes and backslashes) reaches clients unchanged, in
 * a snapshot and in the live feed: the relay encodes its text frames itself.
 */
class UnicodeTextTest {

    private static final String TEXT = "caf\u00e9 \u20ac \u4e2d\u6587 \ud83d\ude00 \"q\" \\ \u00a0end";

    @Test
    void textOutsideAsciiArrivesUnchangedInSnapshotsAndLiveChanges() {
        RelayFixture f = RelayFixture.start("unicode", "CREATE TABLE note (id int PRIMARY KEY, body text)");
        try (java.sql.Connection conn = f.connection();
             java.sql.PreparedStatement ps = conn.prepareStatement("INSERT INTO note VALUES (?, ?)")) {
            ps.setInt(1, 1);
            ps.setString(2, TEXT);
            ps.executeUpdate();
            TestClient c = f.client("unicode-reader", 0);
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            c.awaitCursor(head);
            ps.setInt(1, 2);
            ps.setString(2, TEXT + TEXT);
            ps.executeUpdate();
            c.awaitCursor(head + 1);
            List<FeedEntry> rows = c.entries().stream().filter(e -> e.table().equals("note")).toList();
            assertEquals(2, rows.size(), rows.toString());
            assertEquals(0, rows.get(0).seq(), "the first row came in the snapshot");
            assertEquals(TEXT, rows.get(0).row().get("body").asText());
            assertEquals(TEXT + TEXT, rows.get(1).row().get("body").asText());
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        } finally {
            f.close();
        }
    }
}
