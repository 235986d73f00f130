package io.syncsqlite.driver.sql;

/**
 * What a SQL statement does, as far as capture and transaction tracking care.
 *
 * <p>Immutable; thread-safe.
 */
public enum StatementKind {
    READ(false),
    INSERT(true),
    UPDATE(true),
    DELETE(true),
    BEGIN(false),
    COMMIT(false),
    ROLLBACK(false),
    SAVEPOINT(false),
    RELEASE(false),
    ROLLBACK_TO(false),
    CREATE_TABLE(true),
    ALTER_TABLE(true),
    DROP_TABLE(true),
    /** Other DDL (indexes, views, triggers): a unique index decides which rows a REPLACE evicts (TriggerSql). */
    OTHER_DDL(true),
    PRAGMA(false),
    /** Several statements in one string, or anything the lexer does not know: treated as a possible write. */
    UNKNOWN(true);

    private final boolean mayWrite;

    StatementKind(boolean mayWrite) {
        this.mayWrite = mayWrite;
    }

    /** Whether executing it may change rows of a synced table (so its transaction must be stamped). */
    public boolean mayWrite() {
        return mayWrite;
    }

    public boolean changesSchema() {
        return this == CREATE_TABLE || this == ALTER_TABLE || this == DROP_TABLE || this == OTHER_DDL || this == UNKNOWN;
    }
}
