package io.syncsqlite.driver.capture;

import java.util.Locale;

/**
 * SQLite's column affinity, derived from the declared type by the rules of
 * <a href="https://www.sqlite.org/datatype3.html#determination_of_column_affinity">section 3.1</a>.
 *
 * <p>Immutable; thread-safe.
 */
public enum Affinity {
    INTEGER, TEXT, BLOB, REAL, NUMERIC;

    /**
     * Whether a column of this affinity stores numbers as numbers, so that an infinity PostgreSQL writes
     * as the text {@code Infinity} (JSON has no such number) is a REAL infinity here, as SQLite keeps it.
     */
    public boolean numeric() {
        return this == INTEGER || this == REAL || this == NUMERIC;
    }

    /** {@code +1} or {@code -1} for PostgreSQL's text of an infinity ({@code Infinity}, {@code -Infinity}), else 0. */
    public static int infinity(String text) {
        return switch (text) {
            case "Infinity" -> 1;
            case "-Infinity" -> -1;
            default -> 0;
        };
    }

    public static Affinity of(String declaredType) {
        String t = declaredType == null ? "" : declaredType.toUpperCase(Locale.ROOT);
        if (t.contains("INT")) {
            return INTEGER;
        }
        if (t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT")) {
            return TEXT;
        }
        if (t.contains("BLOB") || t.isBlank()) {
            return BLOB;
        }
        if (t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB")) {
            return REAL;
        }
        return NUMERIC;
    }
}
