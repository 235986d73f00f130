package io.syncsqlite.relay.schema;

import java.util.List;
import java.util.stream.Collectors;

/**
 * SQL text helpers. Identifiers come from PostgreSQL's catalog, never from client input (the relay
 * resolves client names against the catalog first), and are always quoted.
 *
 * <p>Thread-safe: stateless.
 */
public final class Sql {

    private Sql() {
    }

    /** A quoted identifier, as {@code quote_ident} would produce for a name that needs quoting. */
    public static String ident(String name) {
        return '"' + name.replace("\"", "\"\"") + '"';
    }

    /** {@code prefix."a", prefix."b"} */
    public static String columns(String prefix, List<String> names) {
        return names.stream().map(n -> prefix + ident(n)).collect(Collectors.joining(", "));
    }

    /** {@code jsonb_build_object('a', prefix."a", 'b', prefix."b")}: a primary key object. */
    public static String pkObject(String prefix, List<String> pk) {
        return pk.stream().map(n -> literal(n) + ", " + prefix + ident(n))
                .collect(Collectors.joining(", ", "jsonb_build_object(", ")"));
    }

    /**
     * A row's key as {@code syncsqlite.row_clock} stores it: the text of {@link #pkObject}, with
     * {@code numeric} key columns trimmed of trailing zeros ({@code trim_scale}). The clock table compares keys
     * as text ({@code COLLATE "C"}, a byte comparison), which costs about a quarter less per lookup than
     * comparing {@code jsonb}; but {@code jsonb} took {@code 1.5} and {@code 1.50} as the same key, and their
     * text differs, so a numeric key is normalised wherever one is made (the capture trigger does the same
     * through {@code syncsqlite.clock_key}; both decide what is numeric with {@code syncsqlite.numeric_based},
     * which follows domains).
     */
    public static String clockKey(String prefix, TableInfo t) {
        return t.primaryKey().stream()
                .map(n -> literal(n) + ", " + (isNumeric(t, n) ? "trim_scale(" + prefix + ident(n) + ")" : prefix + ident(n)))
                .collect(Collectors.joining(", ", "jsonb_build_object(", ")::text"));
    }

    private static boolean isNumeric(TableInfo t, String column) {
        return t.columns().stream().anyMatch(c -> c.name().equals(column) && c.numeric());
    }

    /** {@code (a."x", a."y") = (b."x", b."y")}: primary key equality between two row sources. */
    public static String pkEquals(String left, String right, List<String> pk) {
        return "(" + columns(left, pk) + ") = (" + columns(right, pk) + ")";
    }

    /** A string literal that reads the same whatever standard_conforming_strings is. */
    public static String literal(String value) {
        return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'";
    }

    /** Up to this many columns a row's newest clock is read by looking each one up ({@link #rowHlc}). */
    static final int LOOKUP_COLUMNS = 64;

    /**
     * The newest clock of a row of {@code t} whose {@code row_clock} row is aliased {@code rc} (NULL without
     * one), as {@code syncsqlite.row_hlc(rc.alive_hlc, rc.cols)} computes it. That function is not inlined
     * (its body has a subquery) and takes 2-5 us per row, most of a snapshot's time in PostgreSQL; a row
     * without column clocks needs none of it, and looking each of a narrow table's columns up costs about a
     * tenth. The function still serves a wide table (hundreds of lookups per row cost more than it does) and
     * clocks under a name the table no longer has (a dropped or renamed column, or one added after this text
     * was built), which keep the result exact.
     */
    public static String rowHlc(String rc, TableInfo t) {
        String alive = rc + ".alive_hlc";
        String cols = rc + ".cols";
        String fallback = " ELSE syncsqlite.row_hlc(" + alive + ", " + cols + ") END";
        String sql = "CASE WHEN " + cols + " IS NULL OR " + cols + " = '{}' THEN " + alive;
        List<String> names = t.columns().stream().map(ColumnInfo::name).toList();
        if (names.size() > LOOKUP_COLUMNS) {
            return sql + fallback;
        }
        String known = names.stream().map(Sql::literal).collect(Collectors.joining(", ", "ARRAY[", "]::text[]"));
        String newest = names.stream().map(n -> "(" + cols + " -> " + literal(n) + " ->> 0)::bigint")
                .collect(Collectors.joining(", ", "greatest(" + alive + ", ", ")"));
        return sql + " WHEN " + cols + " - " + known + " = '{}' THEN " + newest + fallback;
    }
}
