package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.relay.schema.ColumnInfo;
import io.syncsqlite.relay.schema.Sql;
import io.syncsqlite.relay.schema.TableInfo;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The relay reads a row's newest clock with {@link Sql#rowHlc} (a lookup per column) instead of calling
 * {@code syncsqlite.row_hlc}; both must give the same answer, also for clocks under names the table no longer has.
 */
class RowHlcTest {

    @Test
    void theColumnLookupsAgreeWithRowHlcForEveryShapeOfClocks() {
        RelayFixture f = RelayFixture.start("rowhlc", "CREATE TABLE clk (id int PRIMARY KEY, a text, \"it's\" int)");
        try {
            f.execute("INSERT INTO syncsqlite.row_clock (tbl, pk, alive, alive_hlc, alive_node, cols) VALUES"
                    + " ('clk', '{\"id\": 1}', true, 100, 'n', '{}'),"
                    + " ('clk', '{\"id\": 2}', true, 100, 'n', '{\"a\": [300, \"x\"], \"it''s\": [200, \"y\"]}'),"
                    + " ('clk', '{\"id\": 3}', false, 500, 'n', '{\"a\": [300, \"x\"]}'),"
                    + " ('clk', '{\"id\": 4}', true, 0, '', '{\"it''s\": [700, \"x\"]}'),"
                    // a column dropped since (or added after the text was built) with the newest clock
                    + " ('clk', '{\"id\": 5}', true, 100, 'n', '{\"gone\": [900, \"x\"], \"a\": [300, \"x\"]}')");
            TableInfo t = new TableInfo("public", "clk", List.of(
                    new ColumnInfo("id", "integer", "integer", true, false),
                    new ColumnInfo("a", "text", "text", false, false),
                    new ColumnInfo("it's", "integer", "integer", false, false)), List.of("id"), false, false);
            List<List<String>> rows = f.query("SELECT k, " + Sql.rowHlc("rc", t) + ", syncsqlite.row_hlc(rc.alive_hlc, rc.cols)"
                    + " FROM generate_series(1, 6) AS k LEFT JOIN syncsqlite.row_clock AS rc"
                    + " ON rc.tbl = 'clk' AND rc.pk = jsonb_build_object('id', k)::text ORDER BY k");
            assertEquals(List.of(
                    Arrays.asList("1", "100", "100"),
                    Arrays.asList("2", "300", "300"),
                    Arrays.asList("3", "500", "500"),
                    Arrays.asList("4", "700", "700"),
                    Arrays.asList("5", "900", "900"),
                    Arrays.asList("6", null, null)), rows);
        } finally {
            f.close();
        }
    }

    @Test
    void directWritesToAWideTableAreStampedPastTheRowsNewestClock() {
        StringBuilder ddl = new StringBuilder("CREATE TABLE wide (id int PRIMARY KEY");
        for (int i = 1; i < 80; i++) {
            ddl.append(", c").append(i).append(" int");
        }
        RelayFixture f = RelayFixture.start("rowhlcwide", ddl.append(")").toString());
        try {
            f.execute("INSERT INTO wide (id) VALUES (1), (2)");
            long future = Hlc.ofMillis(System.currentTimeMillis() + 300_000);
            f.execute("UPDATE syncsqlite.row_clock SET cols = jsonb_build_object('c79', jsonb_build_array(" + future
                    + ", 'n')) WHERE tbl = 'wide'");
            f.execute("UPDATE wide SET c1 = 5 WHERE id = 1", "DELETE FROM wide WHERE id = 2");
            assertTrue(f.queryLong("SELECT (cols -> 'c1' ->> 0)::bigint FROM syncsqlite.row_clock WHERE tbl = 'wide'"
                    + " AND pk = '{\"id\": 1}'") > future, "the update orders after the newest column clock");
            long dead = f.queryLong("SELECT alive_hlc FROM syncsqlite.row_clock WHERE tbl = 'wide' AND pk = '{\"id\": 2}'");
            assertTrue(dead > future, "the delete too");
            f.execute("INSERT INTO wide (id) VALUES (2)");
            assertTrue(f.queryLong("SELECT alive_hlc FROM syncsqlite.row_clock WHERE tbl = 'wide' AND pk = '{\"id\": 2}' AND alive")
                    > dead, "and the insert after it");
        } finally {
            f.close();
        }
    }
}
