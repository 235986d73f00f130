package io.syncsqlite.driver.sync;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncsqlite.driver.capture.Affinity;
import io.syncsqlite.driver.capture.TableInfo;
import io.syncsqlite.protocol.MessageCodec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.sql.Date;
import java.sql.Time;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.TimeZone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link PgTypes} against the numbers sqlite-jdbc itself makes of Hibernate's temporal values
 * ({@code Date.valueOf(LocalDate)}, {@code Timestamp.valueOf(LocalDateTime)}, ...), in a zone away from UTC
 * so that a conversion in the wrong zone shows.
 */
class PgTypesTest {

    private static final Map<String, String> PG = Map.of("id", "uuid", "day", "date", "ts", "timestamp",
            "tz", "timestamptz", "t", "time", "n", "int8", "s", "text", "plain", "date");
    private TimeZone saved;

    @BeforeEach
    void zone() {
        saved = TimeZone.getDefault();
        TimeZone.setDefault(TimeZone.getTimeZone("America/Sao_Paulo"));
    }

    @AfterEach
    void restore() {
        TimeZone.setDefault(saved);
    }

    private static PgTypes types(String... props) {
        Properties p = new Properties();
        for (int i = 0; i < props.length; i += 2) {
            p.setProperty(props[i], props[i + 1]);
        }
        return PgTypes.of(Map.of("Event", PG), p);
    }

    private static Map<String, TableInfo.Column> local() {
        Map<String, TableInfo.Column> m = new HashMap<>();
        m.put("id", new TableInfo.Column("id", "blob", Affinity.BLOB));
        m.put("day", new TableInfo.Column("day", "date", Affinity.NUMERIC));
        m.put("ts", new TableInfo.Column("ts", "timestamp", Affinity.NUMERIC));
        m.put("tz", new TableInfo.Column("tz", "timestamp with time zone", Affinity.NUMERIC));
        m.put("t", new TableInfo.Column("t", "time", Affinity.NUMERIC));
        m.put("n", new TableInfo.Column("n", "bigint", Affinity.INTEGER));
        m.put("s", new TableInfo.Column("s", "text", Affinity.TEXT));
        m.put("plain", new TableInfo.Column("plain", "TEXT", Affinity.TEXT));
        return m;
    }

    @Test
    void hibernateNumbersBecomePostgresTextAndComeBackTheSame() {
        long day = Date.valueOf(LocalDate.of(2026, 3, 4)).getTime();
        long ts = Timestamp.valueOf(LocalDateTime.of(2026, 3, 4, 5, 6, 7, 123_000_000)).getTime();
        long tz = Instant.parse("2026-03-04T05:06:07.123Z").toEpochMilli();
        long t = Time.valueOf(LocalTime.of(5, 6, 7)).getTime();
        ObjectNode v = MessageCodec.JSON.createObjectNode().put("id", "\\xA0EEBC999C0B4EF8BB6D6BB9BD380A11")
                .put("DAY", day).put("ts", ts).put("tz", tz).put("t", t).put("n", 42L).put("s", 7L);
        types().toServer("event", v);
        assertEquals("{\"id\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\",\"DAY\":\"2026-03-04\",\"ts\":\"2026-03-04T05:06:07.123\","
                + "\"tz\":\"2026-03-04T05:06:07.123Z\",\"t\":\"05:06:07\",\"n\":42,\"s\":7}", v.toString());

        // As PostgreSQL's to_jsonb writes them, with this zone's offset on the timestamptz.
        ObjectNode back = MessageCodec.JSON.createObjectNode().put("id", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
                .put("day", "2026-03-04").put("ts", "2026-03-04T05:06:07.123").put("tz", "2026-03-04T02:06:07.123-03:00")
                .put("t", "05:06:07").put("n", 42L).put("s", "x");
        types().toLocal("EVENT", back, local(), java.util.Set.of());
        assertEquals("{\"id\":\"\\\\xA0EEBC999C0B4EF8BB6D6BB9BD380A11\",\"day\":" + day + ",\"ts\":" + ts + ",\"tz\":" + tz
                + ",\"t\":" + t + ",\"n\":42,\"s\":\"x\"}", back.toString());
    }

    @Test
    void textStaysTextWhereTheApplicationKeepsText() {
        ObjectNode up = MessageCodec.JSON.createObjectNode().put("day", "2026-03-04").put("id", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        types().toServer("event", up);
        assertEquals("{\"day\":\"2026-03-04\",\"id\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"}", up.toString());
        // A local column declared TEXT keeps PostgreSQL's text; so do values that are no date (infinity).
        ObjectNode down = MessageCodec.JSON.createObjectNode().put("plain", "2026-03-04").put("day", "infinity")
                .put("ts", "-infinity");
        types().toLocal("event", down, local(), java.util.Set.of());
        assertEquals("{\"plain\":\"2026-03-04\",\"day\":\"infinity\",\"ts\":\"-infinity\"}", down.toString());
    }

    @Test
    void followsTheConnectionsDateSettings() {
        long secs = Instant.parse("2026-03-04T05:06:07Z").getEpochSecond();
        ObjectNode up = MessageCodec.JSON.createObjectNode().put("tz", secs);
        types("date_precision", "SECONDS").toServer("event", up);
        assertEquals("2026-03-04T05:06:07Z", up.get("tz").textValue());
        ObjectNode down = MessageCodec.JSON.createObjectNode().put("tz", "2026-03-04T05:06:07+00:00");
        types("date_precision", "seconds").toLocal("event", down, local(), java.util.Set.of());
        assertEquals(secs, down.get("tz").longValue());
        // date_class=TEXT: sqlite-jdbc writes its own text, which passes as it is both ways.
        ObjectNode number = MessageCodec.JSON.createObjectNode().put("tz", 5L);
        types("date_class", "TEXT").toServer("event", number);
        assertEquals(5L, number.get("tz").longValue());
        ObjectNode text = MessageCodec.JSON.createObjectNode().put("tz", "2026-03-04T05:06:07+00:00");
        types("date_class", "text").toLocal("event", text, local(), java.util.Set.of());
        assertEquals("2026-03-04T05:06:07+00:00", text.get("tz").textValue());
    }

    @Test
    void convertedColumnsAreNoSchemaDifference() {
        assertTrue(types().bridges("EVENT", local().get("id")), "a BLOB for a uuid");
        assertTrue(types().bridges("event", local().get("ts")), "a TIMESTAMP for a timestamp");
        assertFalse(types().bridges("event", local().get("plain")), "TEXT needs no conversion");
        assertFalse(types().bridges("event", local().get("n")));
        assertFalse(types("date_class", "TEXT").bridges("event", local().get("ts")));
    }

    @Test
    void tablesWithoutTypesPassUnchanged() {
        ObjectNode v = MessageCodec.JSON.createObjectNode().put("day", 1L);
        types().toServer("other", v);
        PgTypes.NONE.toServer("event", v);
        assertEquals(1L, v.get("day").longValue());
    }
}
