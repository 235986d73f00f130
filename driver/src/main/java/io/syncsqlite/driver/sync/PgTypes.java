package io.syncsqlite.driver.sync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.syncsqlite.driver.capture.Affinity;
import io.syncsqlite.driver.capture.TableInfo;
import io.syncsqlite.protocol.JsonTrees;
import io.syncsqlite.protocol.Message;

import java.sql.Timestamp;
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
 *   <li>JSON documents. A {@code json} or {@code jsonb} column gets the document's JSON text, also when the
 *       document is a scalar ({@link #document}).</li>
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
        // Only the columns whose values change kind: a table without any costs one lookup per row.
        Map<String, Map<String, String>> folded = new HashMap<>();
        tables.forEach((table, columns) -> {
            Map<String, String> c = new HashMap<>();
            columns.forEach((name, type) -> {
                if (Message.ColumnTypes.CONVERTED.contains(type) || document(type)) {
                    c.put(name.toLowerCase(Locale.ROOT), type);
                }
            });
            if (!c.isEmpty()) {
                folded.put(table.toLowerCase(Locale.ROOT), c);
            }
        });
        String dateClass = sqlite.getProperty("date_class", "INTEGER");
        String precision = sqlite.getProperty("date_precision", "MILLISECONDS");
        return new PgTypes(folded, dateClass.equalsIgnoreCase("INTEGER"), precision.equalsIgnoreCase("SECONDS") ? 1000 : 1);
    }

    /** Converts {@code values} of {@code table}, in place, to what PostgreSQL's columns take. */
    void toServer(String table, ObjectNode values) {
        Map<String, String> columns = types.get(key(table));
        if (columns == null || !epoch && !columns.containsValue("uuid")) {
            return;
        }
        for (Map.Entry<String, JsonNode> f : values.properties()) {
            String type = columns.get(key(f.getKey()));
            JsonNode v = f.getValue();
            if (type == null) {
                continue;
            }
            if (epoch && wholeNumber(v) && temporal(type)) {
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
     * ({@code local}, by lower-case name) hold. A value of a key column ({@code keys}, lower-case) is
     * converted only when nothing is lost: a timestamp key with microseconds stays text, or the row would
     * be known here under a key PostgreSQL does not have.
     */
    void toLocal(String table, ObjectNode values, Map<String, TableInfo.Column> local, java.util.Set<String> keys) {
        Map<String, String> columns = types.get(key(table));
        if (columns == null) {
            return;
        }
        for (Map.Entry<String, JsonNode> f : values.properties()) {
            String lower = f.getKey().toLowerCase(Locale.ROOT);
            String type = columns.get(key(f.getKey()));
            TableInfo.Column c = local.get(lower);
            JsonNode v = f.getValue();
            if (type == null || c == null || v.isNull()) {
                continue;
            }
            if (document(type)) {
                if (!keys.contains(lower)) {
                    f.setValue(TextNode.valueOf(JsonTrees.text(v)));
                }
                continue;
            }
            if (!v.isTextual()) {
                continue;
            }
            if (epoch && temporal(type) && holdsNumbers(c)) {
                Long ms = parse(type, v.textValue(), keys.contains(lower));
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
        Map<String, String> columns = types.get(key(table));
        String type = columns == null ? null : columns.get(key(column.name()));
        return "uuid".equals(type) && column.affinity() == Affinity.BLOB
                || epoch && type != null && temporal(type) && holdsNumbers(column);
    }

    /**
     * How a table created from the server's schema ({@code sync.schema=server}) declares {@code column}:
     * a date or time as sqlite-jdbc's own names for them, so that {@code getDate}/{@code setDate} work on it
     * and this class converts; otherwise as the relay said.
     */
    String declare(String table, String column, String sqliteType) {
        Map<String, String> columns = types.get(key(table));
        String type = columns == null ? null : columns.get(key(column));
        if (!epoch || type == null) {
            return sqliteType;
        }
        return switch (type) {
            case "date" -> "DATE";
            case "time", "timetz" -> "TIME";
            case "timestamp", "timestamptz" -> "TIMESTAMP";
            default -> sqliteType;
        };
    }

    /** How a local name finds PostgreSQL's: folded, and cut to 63 bytes as PostgreSQL cut it. */
    private static String key(String name) {
        return io.syncsqlite.protocol.Identifiers.clip(name).toLowerCase(Locale.ROOT);
    }

    /**
     * Whether {@code type} holds JSON documents. A row image carries a document as the JSON value itself, so a
     * document that is a scalar arrives as a string, a number or a boolean, which bound as such lost what it was:
     * the string {@code "123"} became the text {@code 123}, {@code true} the integer 1, the string {@code "true"}
     * the text {@code true}; and a device saving the row back turned PostgreSQL's documents into other ones
     * (EdgeValuesReviewTest). Such a column gets the document's JSON text, as an object or an array always did.
     * The document {@code null} cannot be told from SQL NULL in a row image: it arrives as NULL.
     */
    private static boolean document(String type) {
        return type.equals("json") || type.equals("jsonb");
    }

    private static boolean temporal(String type) {
        return switch (type) {
            case "date", "timestamp", "timestamptz", "time", "timetz" -> true;
            default -> false;
        };
    }

    /**
     * A local column that holds dates as sqlite-jdbc writes them (numbers): declared as a date or time (as
     * Hibernate and most schemas declare one on SQLite), or with any numeric affinity (INTEGER, REAL, NUMERIC:
     * epoch milliseconds kept by the application). Converting only up into such a column turned the
     * application's own numbers into text when its writes came back. Only TEXT and BLOB (or untyped) columns
     * keep PostgreSQL's text.
     */
    private static boolean holdsNumbers(TableInfo.Column c) {
        String d = c.declaredType() == null ? "" : c.declaredType().trim().toLowerCase(Locale.ROOT);
        return d.startsWith("date") || d.startsWith("time") || c.affinity().numeric();
    }

    /** A JSON number without a fraction (SQLite gives a REAL column's whole milliseconds as a double). */
    private static boolean wholeNumber(JsonNode v) {
        if (v.isIntegralNumber()) {
            return v.canConvertToLong();
        }
        if (!v.isNumber()) {
            return false;
        }
        double d = v.doubleValue();
        return d == Math.rint(d) && Math.abs(d) < 9.0e15;
    }

    /**
     * Epoch milliseconds as PostgreSQL's {@code type} reads them, or null when they cannot be written. The
     * wall-clock value is what {@code java.sql.Date}/{@code Timestamp} make of the number, as sqlite-jdbc
     * and Hibernate made the number from it: their calendar is Julian before 1582 and their zone rules have
     * no local mean time, where {@code java.time}'s would move such dates by days or minutes.
     */
    private static String format(String type, long ms) {
        LocalDateTime local = new Timestamp(ms).toLocalDateTime();
        if (local.getYear() < 1 || local.getYear() > 9999) {
            return null;
        }
        return switch (type) {
            case "date" -> local.toLocalDate().toString();
            case "timestamp" -> local.toString();
            case "timestamptz" -> Instant.ofEpochMilli(ms).toString();
            case "time" -> local.toLocalTime().toString();
            case "timetz" -> OffsetTime.ofInstant(Instant.ofEpochMilli(ms), ZoneId.systemDefault()).toString();
            default -> null;
        };
    }

    /**
     * PostgreSQL's text of a {@code type} value as epoch milliseconds (through {@code java.sql}'s calendar,
     * see {@link #format}), or null when it is not one, or when {@code exact} and it has digits below the
     * millisecond.
     */
    private static Long parse(String type, String s, boolean exact) {
        try {
            return switch (type) {
                case "date" -> java.sql.Date.valueOf(LocalDate.parse(s)).getTime();
                case "timestamp" -> millis(Timestamp.valueOf(LocalDateTime.parse(s)), exact);
                case "timestamptz" -> {
                    Instant at = OffsetDateTime.parse(offset(s)).toInstant();
                    yield exact && at.getNano() % 1_000_000 != 0 ? null : at.toEpochMilli();
                }
                case "time" -> millis(Timestamp.valueOf(LocalDate.of(1970, 1, 1).atTime(LocalTime.parse(s))), exact);
                case "timetz" -> {
                    OffsetTime t = OffsetTime.parse(offset(s));
                    yield exact && t.getNano() % 1_000_000 != 0 ? null
                            : t.atDate(LocalDate.of(1970, 1, 1)).toInstant().toEpochMilli();
                }
                default -> null;
            };
        } catch (DateTimeParseException | IllegalArgumentException notIso) {
            return null; // infinity, BC dates, years past 9999: left as PostgreSQL wrote them
        }
    }

    private static Long millis(Timestamp t, boolean exact) {
        return exact && t.getNanos() % 1_000_000 != 0 ? null : t.getTime();
    }

    /** PostgreSQL writes a whole-hour offset as {@code +05}; {@code java.time} wants {@code +05:00}. */
    private static String offset(String s) {
        int n = s.length();
        if (n >= 3 && (s.charAt(n - 3) == '+' || s.charAt(n - 3) == '-')
                && Character.isDigit(s.charAt(n - 2)) && Character.isDigit(s.charAt(n - 1))) {
            return s + ":00";
        }
        return s;
    }
}
