package io.syncsqlite.driver.sync;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncsqlite.driver.jdbc.SyncConnection;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.FeedKind;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.MessageCodec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Review findings on the sync client's local side, against real SQLite files. */
class ReviewSyncFindingsTest {

    @TempDir
    Path dir;

    private String url() {
        return "jdbc:syncsqlite:" + dir.resolve("app.db") + "?sync.lingerMs=0";
    }

    private static void exec(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private static String row(Connection c, String id) throws SQLException {
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT title FROM task WHERE id = '" + id + "'")) {
            return rs.next() ? rs.getString(1) : "absent";
        }
    }

    private static ObjectNode json(String s) throws Exception {
        return (ObjectNode) MessageCodec.JSON.readTree(s);
    }

    private static FeedEntry upsert(long seq, String id, String title, long hlc) throws Exception {
        return new FeedEntry(seq, "task", FeedKind.UPSERT, json("{\"id\":\"" + id + "\"}"),
                json("{\"id\":\"" + id + "\",\"title\":\"" + title + "\"}"), hlc);
    }

    @Test
    void aTransactionLargerThanTheRowLimitIsStillPushed() throws Exception {
        String file = dir.resolve("app.db").toString();
        try (Connection app = DriverManager.getConnection(url());
             Connection client = DriverManager.getConnection("jdbc:sqlite:" + file)) {
            exec(app, "CREATE TABLE task (id TEXT PRIMARY KEY, title TEXT)");
            app.setAutoCommit(false);
            for (int i = 0; i < 50; i++) {
                exec(app, "INSERT INTO task (id, title) VALUES ('t" + i + "', 'x')");
            }
            app.commit(); // one transaction of 50 rows (a backfill of a big table is the same)
            app.setAutoCommit(true);
            try (LocalStore store = LocalStores.open(client)) {
                // batchRows = 10: the query's LIMIT 21 ends inside the first transaction, before its marker
                List<ClientTx> txs = store.pendingAfter(0, 10, true);
                assertEquals(1, txs.size(), "the oversized transaction must be sent, alone if need be");
                assertEquals(50, txs.get(0).changes().size());
            }
        }
    }

    @Test
    void afterAReconnectTheClientEndsOnTheServersValue() throws Exception {
        String file = dir.resolve("app.db").toString();
        try (Connection app = DriverManager.getConnection(url());
             Connection client = DriverManager.getConnection("jdbc:sqlite:" + file)) {
            exec(app, "CREATE TABLE task (id TEXT PRIMARY KEY, title TEXT)");
            try (LocalStore store = LocalStores.open(client)) {
                store.applyFeed(List.of(upsert(1, "t1", "base", 1), upsert(1, "t2", "base", 1)), 1);
                exec(app, "UPDATE task SET title = 'mine' WHERE id = 't1'"); // tx A
                exec(app, "UPDATE task SET title = 'mine too' WHERE id = 't2'"); // tx B
                List<ClientTx> txs = store.pendingAfter(0, 100, true);
                assertEquals(2, txs.size());
                // Both were pushed; the relay applied A at 100 and B at 110, and another client set t1 at 105
                // (a later HLC, it wins). The connection dropped before either ack arrived. On reconnect the
                // welcome says appliedTx = B, appliedSeq = 110.
                store.acknowledgeOnWelcome(txs.get(1).id(), 110);
                store.applyFeed(List.of(upsert(100, "t1", "mine", 2)), 100);
                store.applyFeed(List.of(upsert(105, "t1", "theirs, later", 3)), 105);
                store.applyFeed(List.of(upsert(110, "t2", "mine too", 4)), 110);
                assertEquals(0, store.unsettled());
                assertEquals("theirs, later", row(app, "t1"), "PostgreSQL holds 'theirs, later' for t1");
            }
        }
    }

    @Test
    void aRolledBackDropTableDoesNotMakeTheFeedSkipTheTable() throws Exception {
        String file = dir.resolve("app.db").toString();
        try (Connection app = DriverManager.getConnection(url());
             Connection client = DriverManager.getConnection("jdbc:sqlite:" + file)) {
            exec(app, "CREATE TABLE task (id TEXT PRIMARY KEY, title TEXT)");
            SyncNode node = ((SyncConnection) app).node();
            app.setAutoCommit(false);
            exec(app, "DROP TABLE task");
            app.rollback();
            app.setAutoCommit(true);
            // the sync client reads the same supplier SyncNode gives its LocalStore
            try (LocalStore store = new LocalStore(client, node.clock(), node::syncedTables)) {
                store.applyFeed(List.of(upsert(7, "t1", "from the server", 1)), 7);
                assertEquals(7, store.cursor());
                assertEquals("from the server", row(app, "t1"), "the feed row was skipped and will never come again");
            }
        }
    }

    @Test
    void aWriteAfterARestartIsOrderedAfterWhatTheClientSawBefore() throws Exception {
        String file = dir.resolve("app.db").toString();
        long remote = Hlc.ofMillis(System.currentTimeMillis() + 120_000L); // a node whose clock runs 2 min ahead
        try (Connection app = DriverManager.getConnection(url());
             Connection client = DriverManager.getConnection("jdbc:sqlite:" + file)) {
            exec(app, "CREATE TABLE task (id TEXT PRIMARY KEY, title TEXT)");
            SyncNode node = ((SyncConnection) app).node();
            try (LocalStore store = new LocalStore(client, node.clock(), node::syncedTables)) {
                store.applyFeed(List.of(upsert(3, "t1", "seen", remote)), 3);
            }
        }
        // The application restarts (the node closed with its last connection) and then edits the row it saw.
        try (Connection app = DriverManager.getConnection(url())) {
            exec(app, "UPDATE task SET title = 'edited after seeing it' WHERE id = 't1'");
            try (Statement st = app.createStatement();
                 ResultSet rs = st.executeQuery("SELECT max(hlc) FROM _sync_outbox")) {
                assertTrue(rs.next());
                long stamped = rs.getLong(1);
                assertTrue(stamped > remote, "write stamped " + Hlc.unpack(stamped) + " <= observed " + Hlc.unpack(remote)
                        + ": it loses the merge to the change it overwrote");
            }
        }
    }
}
