package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.relay.db.ConnectionPool;
import io.syncsqlite.relay.feed.ChangeFeed;
import io.syncsqlite.relay.schema.Catalog;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Sessions run their database work through {@link ChangeFeed#inTransaction}. Work that fails with a bug
 * (an unchecked exception) must not hand its open transaction to the pool's next borrower, who would
 * commit whatever the failed work had written.
 */
class FeedTransactionTest {

    @Test
    void workThatThrowsLeavesNothingForTheNextBorrowerToCommit() throws Exception {
        RelayFixture f = RelayFixture.start("feedtx", "CREATE TABLE t (id int PRIMARY KEY)");
        var config = f.config();
        var connector = new ConnectionPool.PgConnector(config.pgUrl(), config.pgUser(), config.pgPassword(), "feedtx-test");
        try (ConnectionPool pool = new ConnectionPool(connector, 1)) {
            ChangeFeed feed = new ChangeFeed(connector, pool, new Catalog("public", List.of()), 1000, 1);
            assertThrows(IllegalStateException.class, () -> feed.inTransaction(c -> {
                c.createStatement().execute("INSERT INTO t VALUES (1)");
                throw new IllegalStateException("a bug in the work, after it wrote");
            }));
            // The pool has one connection: without care, this is the same one, its transaction still open.
            assertEquals(0L, (long) feed.<Long>inTransaction(c -> {
                try (var rs = c.createStatement().executeQuery("SELECT count(*) FROM t")) {
                    rs.next();
                    return rs.getLong(1);
                }
            }));
            assertEquals(0, f.queryLong("SELECT count(*) FROM t"));
        } finally {
            f.close();
        }
    }
}
