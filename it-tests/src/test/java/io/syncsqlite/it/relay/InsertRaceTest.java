package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.Hlc;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The relay inserts a row it read as absent with a plain INSERT (no ON CONFLICT: cheaper, and no UPDATE
 * triggers). A direct writer in psql takes no relay lock, so it can create the key between the relay's read and
 * its insert: here the relay's insert is held in a BEFORE INSERT trigger that sleeps (relay transactions only)
 * while psql inserts and commits the same key. The relay's insert then fails with 23505, and the transaction is
 * decided again on fresh state: the row exists, so the client's insert is merged into it by column clocks, a
 * counter's amount added, instead of overwriting it.
 */
class InsertRaceTest {

    private static final String[] DDL = {
        "CREATE TABLE t (id int PRIMARY KEY, v text, w text, n bigint NOT NULL DEFAULT 0)",
        // Outside the synced schema: the switch that holds the relay's insert.
        "CREATE SCHEMA side",
        "CREATE TABLE side.stall (on_ boolean)",
        "INSERT INTO side.stall VALUES (true)",
        // Only the relay's writes wait: they run with syncsqlite.node set (TxRun's SET LOCAL).
        "CREATE FUNCTION side.stall_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                + " WHILE coalesce(current_setting('syncsqlite.node', true), '') <> ''"
                + " AND EXISTS (SELECT FROM side.stall) LOOP PERFORM pg_sleep(0.05); END LOOP; RETURN NEW; END $$",
        "CREATE TRIGGER stall_insert BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION side.stall_insert()",
    };

    @Test
    void aKeyInsertedInPsqlWhileTheRelayInsertsItIsMergedNotOverwritten() {
        try (RelayFixture f = RelayFixture.start("insrace", DDL)) {
            // The client wrote a minute before psql: psql's values win every column.
            long clientHlc = Hlc.ofMillis(System.currentTimeMillis() - 60_000);
            try (TestClient a = f.client("insrace-a", 0)) {
                a.push(tx(1, clientHlc, insert("t", obj("id", 1), obj("v", "client", "n", 5))));
                racePsqlInsert(f);
                a.awaitAck(1);
                assertEquals(List.of(List.of("psql", "psql-w", "100")), f.query("SELECT v, w, n FROM t WHERE id = 1"));
                // The client hears the row as PostgreSQL has it, not its own values.
                a.await(() -> a.entries().stream().anyMatch(InsertRaceTest::isPsqlRow) ? true : null,
                        "the merged row in the feed");
                FeedEntry last = a.entries().stream().filter(e -> e.pk().get("id").asInt() == 1)
                        .reduce((x, y) -> y).orElseThrow();
                assertEquals("psql", last.row().get("v").asText());
            }
            assertEquals(1, f.queryLong("SELECT count(*) FROM syncsqlite.row_clock WHERE tbl = 't' AND alive"));
        }
    }

    @Test
    void aClientInsertNewerThanThePsqlRowWinsOnlyTheColumnsItWrote() {
        try (RelayFixture f = RelayFixture.start("insrace2", DDL)) {
            // Stamped a minute ahead: the client's columns win over psql's insert of the same moment.
            long clientHlc = Hlc.ofMillis(System.currentTimeMillis() + 60_000);
            try (TestClient a = f.client("insrace2-a", 0)) {
                a.push(tx(1, clientHlc, insert("t", obj("id", 1), obj("v", "client"))));
                racePsqlInsert(f);
                a.awaitAck(1);
                assertEquals(List.of(List.of("client", "psql-w", "100")), f.query("SELECT v, w, n FROM t WHERE id = 1"));
            }
        }
    }

    /** Waits until the relay's insert is held in the trigger, inserts the same key in psql, then lets it go. */
    private static void racePsqlInsert(RelayFixture f) {
        await().atMost(Duration.ofSeconds(20)).until(() -> f.queryLong("SELECT count(*) FROM pg_stat_activity"
                + " WHERE datname = current_database() AND wait_event = 'PgSleep'") >= 1);
        // The relay has read the key as absent and is inside its INSERT, before the row reaches the key's index.
        f.execute("INSERT INTO t (id, v, w, n) VALUES (1, 'psql', 'psql-w', 100)");
        f.execute("DELETE FROM side.stall");
    }

    private static boolean isPsqlRow(FeedEntry e) {
        return e.pk().get("id").asInt() == 1 && e.row() != null && "psql".equals(e.row().path("v").asText());
    }
}
