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
