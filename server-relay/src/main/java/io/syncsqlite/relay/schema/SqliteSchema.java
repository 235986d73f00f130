package io.syncsqlite.relay.schema;

import io.syncsqlite.protocol.Message;

import java.util.ArrayList;
import java.util.List;

/**
 * The synced tables as a SQLite client should declare them, for {@code sync.schema=server}: PostgreSQL
 * types mapped to the SQLite declared types that keep values as docs/DESIGN.md's type mapping describes,
 * and a single integer key declared {@code INTEGER} so that it becomes SQLite's rowid alias (and gets keys
 * from the relay's ranges).
 *
 * <p>Stateless; thread-safe.
 */
public final class SqliteSchema {

    private SqliteSchema() {
    }

    public static Message.Schema of(Catalog catalog) {
        List<Message.Schema.TableDef> tables = new ArrayList<>();
        for (TableInfo t : catalog.tables()) {
            List<Message.Schema.ColumnDef> columns = new ArrayList<>();
            for (ColumnInfo c : t.columns()) {
                columns.add(new Message.Schema.ColumnDef(c.name(), sqliteType(c.baseType())));
            }
            tables.add(new Message.Schema.TableDef(t.name(), columns, t.primaryKey()));
        }
        return new Message.Schema(tables);
    }

    /**
     * PostgreSQL's type of every column of the tables {@code visible} accepts ({@link ColumnInfo#valueType}:
     * a domain's underlying type), for the client's conversions.
     */
    public static Message.ColumnTypes columnTypes(Catalog catalog, java.util.function.Predicate<String> visible) {
        java.util.Map<String, java.util.Map<String, String>> tables = new java.util.LinkedHashMap<>();
        for (TableInfo t : catalog.tables()) {
            if (visible.test(t.name())) {
                java.util.Map<String, String> columns = new java.util.LinkedHashMap<>();
                for (ColumnInfo c : t.columns()) {
                    columns.put(c.name(), c.valueType());
                }
                tables.put(t.name(), columns);
            }
        }
        return new Message.ColumnTypes(tables);
    }

    static String sqliteType(String pgBaseType) {
        return switch (pgBaseType) {
            case "int2", "int4", "int8" -> "INTEGER";
            case "bool" -> "BOOLEAN";
            case "numeric" -> "NUMERIC";
            case "float4" -> "REAL";
            case "float8" -> "DOUBLE";
            case "bytea" -> "BLOB";
            default -> "TEXT"; // text, varchar, uuid, json(b), date, time, timestamp(tz), enums, ...
        };
    }
}
