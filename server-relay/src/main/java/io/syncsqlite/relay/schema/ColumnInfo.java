package io.syncsqlite.relay.schema;

/**
 * One column of a synced table, as PostgreSQL's catalog describes it.
 *
 * @param name       the column name exactly as PostgreSQL stores it
 * @param type       the full type, e.g. {@code numeric(10,2)} ({@code format_type})
 * @param baseType   the type's name in {@code pg_type}, e.g. {@code bool}, {@code int4}, {@code bytea}
 * @param primaryKey whether the column is part of the primary key
 * @param generated  a generated column: computed by PostgreSQL, never written by the relay
 * @param numeric    {@code numeric} or a domain over it: values equal in any scale ({@code 1.5 = 1.50}), so a
 *                   key column of this type is trimmed in clock keys ({@link Sql#clockKey})
 * @param valueType  the type of the values: {@code baseType}, or for a domain the type it is over (one level),
 *                   as clients are told it ({@link SqliteSchema#columnTypes}): a domain over {@code date} holds
 *                   dates, which clients convert
 *
 * <p>Immutable; thread-safe.
 */
public record ColumnInfo(String name, String type, String baseType, boolean primaryKey, boolean generated,
                         boolean numeric, String valueType) {

    /** A column that is not of a domain. */
    public ColumnInfo(String name, String type, String baseType, boolean primaryKey, boolean generated,
                      boolean numeric) {
        this(name, type, baseType, primaryKey, generated, numeric, baseType);
    }

    /** A column whose numeric-ness is read from {@code baseType} alone (no domains): for tests and tools. */
    public ColumnInfo(String name, String type, String baseType, boolean primaryKey, boolean generated) {
        this(name, type, baseType, primaryKey, generated, baseType.equals("numeric"));
    }

    public boolean isBoolean() {
        return baseType.equals("bool");
    }
}
