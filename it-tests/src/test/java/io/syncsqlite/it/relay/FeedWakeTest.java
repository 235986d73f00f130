package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.relay.db.ConnectionPool;
import io.syncsqlite.relay.feed.ChangeFeed;
import io.syncsqlite.relay.schema.Catalog;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * What makes the relay's feed read: its own commits poke it, everyone else's arrive as notifications on
 * a LISTEN connection of its own, and a lost LISTEN connection is reopened without losing the commits
 * made while it was gone. Each feed here polls once an hour, so only the wake-up under test can make it
 * read within the test.
 */
class FeedWakeTest {

    private static final Duration NEVER = Duration.ofHours(1);
    private static final String LISTEN_BACKENDS = "SELECT pid FROM pg_stat_activity"
            + " WHERE datname = current_database() AND application_name = 'feedwake-test listen'";

    @Test
    void aPokeReadsACommitWithoutNotificationOrPoll() throws Exception {
        RelayFixture f = RelayFixture.start("feedpoke", "CREATE TABLE t (id int PRIMARY KEY, v int)");
        try (ConnectionPool pool = new ConnectionPool(connector(f), 1);
             ChangeFeed feed = new ChangeFeed(connector(f), pool, new Catalog("public", List.of()), 1000, 1, NEVER, false)) {
            feed.start();
            long head = feed.head();
            Thread.sleep(300); // the feed's first read, at start, is done
            f.execute("INSERT INTO t VALUES (1, 1)");
            Thread.sleep(500);
            assertEquals(head, feed.head(), "nothing woke the feed, so it has not read the commit");
            feed.poke();
            await().atMost(Duration.ofSeconds(2)).until(() -> feed.head() == head + 1);
        } finally {
            f.close();
        }
    }

    @Test
    void notificationsWakeTheFeedAndALostListenConnectionIsReopened() throws Exception {
        RelayFixture f = RelayFixture.start("feedlisten", "CREATE TABLE t (id int PRIMARY KEY, v int)");
        try (ConnectionPool pool = new ConnectionPool(connector(f), 1);
             ChangeFeed feed = new ChangeFeed(connector(f), pool, new Catalog("public", List.of()), 1000, 1, NEVER, true)) {
            feed.start();
            await().atMost(Duration.ofSeconds(5)).until(() -> f.query(LISTEN_BACKENDS).size() == 1);
            long head = feed.head();
            f.execute("INSERT INTO t VALUES (1, 1)");
            await().atMost(Duration.ofSeconds(5)).until(() -> feed.head() == head + 1);

            // The commit below is notified while nobody listens: the feed must still read it once the
            // LISTEN connection is back, not an hour later.
            assertEquals(1, f.query("SELECT pg_terminate_backend(pid) FROM (" + LISTEN_BACKENDS + ") AS l").size());
            f.execute("INSERT INTO t VALUES (2, 2)");
            await().atMost(Duration.ofSeconds(10)).until(() -> feed.head() == head + 2);
            await().atMost(Duration.ofSeconds(10)).until(() -> f.query(LISTEN_BACKENDS).size() == 1);

            f.execute("INSERT INTO t VALUES (3, 3)");
            await().atMost(Duration.ofSeconds(5)).until(() -> feed.head() == head + 3);
        } finally {
            f.close();
        }
    }

    private static ConnectionPool.PgConnector connector(RelayFixture f) {
        var config = f.config();
        return new ConnectionPool.PgConnector(config.pgUrl(), config.pgUser(), config.pgPassword(), "feedwake-test");
    }
}
