package io.syncsqlite.driver.sync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.syncsqlite.driver.capture.Affinity;
import io.syncsqlite.driver.capture.TableInfo;

import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.time.ZoneId;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;

/**
 * Converts values between what sqlite-jdbc stores and what PostgreSQL's column type takes and gives back,
 * where the two differ in kind, knowing each column's PostgreSQL type ({@link
 * io.syncsqlite.protocol.Message.ColumnTypes}):
 * <ul>
 *   <li>Dates and times. sqlite-jdbc stores a {@code java.sql.Date}, {@code Time} or {@code Timestamp}, and
 *       so every Hibernate temporal field, as epoch milliseconds (its default {@code date_class=INTEGER});
 *       PostgreSQL refuses a number for {@code date}, {@code time}, {@code timestamp} and
 *       {@code timestamptz}, and gives ISO text back, which sqlite-jdbc cannot read as a date. Up, an integer
 *       in such a column becomes ISO text: the instant for {@code timestamptz}, the wall-clock date or time
 *       in this device's zone for the others (the zone sqlite-jdbc and Hibernate used to make the number).
 *       Down, ISO text becomes epoch milliseconds again, into a local column declared as a date or time
 *       ({@code DATE}, {@code DATETIME}, {@code TIME}, {@code TIMESTAMP}...), which is how Hibernate declares
 *       them; a column declared {@code TEXT} keeps PostgreSQL's text, as before.</li>
 *   <li>UUIDs. Hibernate binds a {@code UUID} as 16 bytes on SQLite; PostgreSQL's {@code uuid} takes and
 *       gives text. Up, a 16-byte BLOB in a {@code uuid} column becomes its text; down, a {@code uuid} into a
 *       local BLOB column becomes the 16 bytes, keys included, so rows are found by the id Hibernate looks
 *       up.</li>
 * </ul>
 * Values of other kinds pass unchanged (a text date into a {@code date} column, a text UUID), as does
 * anything that does not parse ({@code infinity}, years beyond 9999).
 *
 * <p>Not thread-safe: the sync thread's own, replaced at each connection.
 */
final class PgTypes {

    /** No types known (a relay older than {@link io.syncsqlite.protocol.Message#COLUMN_TYPES_VERSION}). */
    static final PgTypes NONE = new PgTypes(Map.of(), true, 1);

    /** Lower-case table, then lower-case column: PostgreSQL's type name. */
    private final Map<String, Map<String, String>> types;
    /** sqlite-jdbc writes dates as numbers ({@code date_class=INTEGER}, its default). */
    private final boolean epoch;
    /** Milliseconds per stored unit: 1, or 1000 with {@code date_precision=SECONDS}. */
    private final long unit;

    private PgTypes(Map<String, Map<String, String>> types, boolean epoch, long unit) {
        this.types = types;
        this.epoch = epoch;
        this.unit = unit;
    }

    /**
     * @param tables PostgreSQL's column types per table, as the relay sent them
     * @param sqlite the connection's sqlite-jdbc properties ({@code date_class}, {@code date_precision})
     */
    static PgTypes of(Map<String, Map<String, String>> tables, Properties sqlite) {
        Map<String, Map<String, String>> folded = new HashMap<>();
        tables.forEach((table, columns) -> {
            Map<String, String> c = new HashMap<>();
            columns.forEach((name, type) -> c.put(name.toLowerCase(Locale.ROOT), type));
            folded.put(table.toLowerCase(Locale.ROOT), c);
        });
        String dateClass = sqlite.getProperty("date_class", "INTEGER");
        String precision = sqlite.getProperty("date_precision", "MILLISECONDS");
        return new PgTypes(folded, dateClass.equalsIgnoreCase("INTEGER"), precision.equalsIgnoreCase("SECONDS") ? 1000 : 1);
    }

    /** Converts {@code values} of {@code table}, in place, to what PostgreSQL's columns take. */
    void toServer(String table, ObjectNode values) {
        Map<String, String> columns = types.get(table.toLowerCase(Locale.ROOT));
        if (columns == null || !epoch && !columns.containsValue("uuid")) {
            return;
        }
        for (Map.Entry<String, JsonNode> f : values.properties()) {
            String type = columns.get(f.getKey().toLowerCase(Locale.ROOT));
            JsonNode v = f.getValue();
            if (type == null) {
                continue;
            }
            if (epoch && v.isIntegralNumber() && v.canConvertToLong() && temporal(type)) {
                String text = format(type, v.longValue() * unit);
                if (text != null) {
                    f.setValue(TextNode.valueOf(text));
                }
            } else if (type.equals("uuid") && v.isTextual() && v.textValue().length() == 34
                    && v.textValue().startsWith("\\x") && RowKey.isHex(v.textValue(), 2)) {
                String h = v.textValue().substring(2).toLowerCase(Locale.ROOT);
                f.setValue(TextNode.valueOf(h.substring(0, 8) + '-' + h.substring(8, 12) + '-' + h.substring(12, 16)
                        + '-' + h.substring(16, 20) + '-' + h.substring(20)));
            }
        }
    }

    /**
     * Converts {@code values} of {@code table} from the feed, in place, to what the local columns
     * ({@code local}, by lower-case name) hold.
     */
    void toLocal(String table, ObjectNode values, Map<String, TableInfo.Column> local) {
        Map<String, String> columns = types.get(table.toLowerCase(Locale.ROOT));
        if (columns == null) {
            return;
        }
        for (Map.Entry<String, JsonNode> f : values.properties()) {
            String lower = f.getKey().toLowerCase(Locale.ROOT);
            String type = columns.get(lower);
            TableInfo.Column c = local.get(lower);
            JsonNode v = f.getValue();
            if (type == null || c == null || !v.isTextual()) {
                continue;
            }
            if (epoch && temporal(type) && declaredTemporal(c)) {
                Long ms = parse(type, v.textValue());
                if (ms != null) {
                    f.setValue(LongNode.valueOf(Math.floorDiv(ms, unit)));
                }
            } else if (type.equals("uuid") && c.affinity() == Affinity.BLOB) {
                try {
                    UUID u = UUID.fromString(v.textValue());
                    f.setValue(TextNode.valueOf(String.format("\\x%016X%016X", u.getMostSignificantBits(),
                            u.getLeastSignificantBits())));
                } catch (IllegalArgumentException notUuid) {
                    // left as it is
                }
            }
        }
    }

    /** Whether values of {@code column} change kind on the way, so that their kinds differ on purpose (SchemaCheck). */
    boolean bridges(String table, TableInfo.Column column) {
        Map<String, String> columns = types.get(table.toLowerCase(Locale.ROOT));
        String type = columns == null ? null : columns.get(column.name().toLowerCase(Locale.ROOT));
        return "uuid".equals(type) && column.affinity() == Affinity.BLOB
                || epoch && type != null && temporal(type) && declaredTemporal(column);
    }

    private static boolean temporal(String type) {
        return switch (type) {
            case "date", "timestamp", "timestamptz", "time", "timetz" -> true;
            default -> false;
        };
    }

    /** Declared the way Hibernate and most schemas declare a date or time on SQLite. */
    private static boolean declaredTemporal(TableInfo.Column c) {
        String d = c.declaredType() == null ? "" : c.declaredType().trim().toLowerCase(Locale.ROOT);
        return d.startsWith("date") || d.startsWith("time");
    }

    /** Epoch milliseconds as PostgreSQL's {@code type} reads them, or null when they cannot be written. */
    private static String format(String type, long ms) {
        Instant at = Instant.ofEpochMilli(ms);
        ZoneId zone = ZoneId.systemDefault();
        LocalDateTime local = LocalDateTime.ofInstant(at, zone);
        if (local.getYear() < 1 || local.getYear() > 9999) {
            return null;
        }
        return switch (type) {
            case "date" -> local.toLocalDate().toString();
            case "timestamp" -> local.toString();
            case "timestamptz" -> at.toString();
            case "time" -> local.toLocalTime().toString();
            case "timetz" -> OffsetTime.ofInstant(at, zone).toString();
            default -> null;
        };
    }

    /** PostgreSQL's text of a {@code type} value as epoch milliseconds, or null when it is not one. */
    private static Long parse(String type, String s) {
        ZoneId zone = ZoneId.systemDefault();
        try {
            return switch (type) {
                case "date" -> LocalDate.parse(s).atStartOfDay(zone).toInstant().toEpochMilli();
                case "timestamp" -> LocalDateTime.parse(s).atZone(zone).toInstant().toEpochMilli();
                case "timestamptz" -> OffsetDateTime.parse(s).toInstant().toEpochMilli();
                case "time" -> LocalDate.EPOCH.atTime(LocalTime.parse(s)).atZone(zone).toInstant().toEpochMilli();
                case "timetz" -> OffsetTime.parse(s).atDate(LocalDate.EPOCH).toInstant().toEpochMilli();
                default -> null;
            };
        } catch (DateTimeParseException notIso) {
            return null; // infinity, BC dates, years past 9999: left as PostgreSQL wrote them
        }
    }
}
