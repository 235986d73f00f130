package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.relay.Relay;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Identifiers that need quoting, a schema other than public, client names in another case, and two
 * relays syncing different tables of one database: each relay's clients see only their own tables.
 */
class NamesTest {

    @Test
    void awkwardNamesWorkAndEachRelayStreamsOnlyItsOwnTables() throws Exception {
        try (RelayFixture f = RelayFixture.start("names",
                "CREATE TABLE plain (id int PRIMARY KEY, v text)",
                "CREATE SCHEMA \"Odd Schema\"",
                "CREATE TABLE \"Odd Schema\".\"Mixed Case\" (\"Key Id\" int, \"it's\" text, \"Some \"\"Col\"\"\" text,"
                        + " PRIMARY KEY (\"Key Id\", \"it's\"))");
             Relay odd = Relay.start(f.config().withSchema("Odd Schema"))) {
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            TestClient plain = f.client("names-plain", head);
            TestClient c = TestClient.connect(odd.uri());
            try {
                c.hello("names-odd", head);
                c.push(tx(1, Hlc.ofMillis(System.currentTimeMillis()),
                        insert("mixed case", obj("key id", 1, "IT'S", "a'b"), obj("some \"col\"", "v\\1"))));
                long seq = c.awaitAck(1).seq();
                assertEquals(List.of(List.of("1", "a'b", "v\\1")),
                        f.query("SELECT * FROM \"Odd Schema\".\"Mixed Case\""));

                f.execute("UPDATE \"Odd Schema\".\"Mixed Case\" SET \"Some \"\"Col\"\"\" = 'direct'",
                        "INSERT INTO plain VALUES (1, 'p')");
                long last = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
                c.awaitCursor(last);
                plain.awaitCursor(last);

                List<FeedEntry> odds = c.entries();
                assertEquals(2, odds.size(), odds.toString());
                assertTrue(odds.stream().allMatch(e -> e.table().equals("Mixed Case")));
                assertEquals(seq, odds.get(0).seq());
                assertEquals("a'b", odds.get(1).pk().get("it's").asText());
                assertEquals("direct", odds.get(1).row().get("Some \"Col\"").asText());
                assertEquals(List.of("plain"), plain.entries().stream().map(FeedEntry::table).toList());
            } finally {
                c.close();
            }
        }
    }
}
