package io.syncsqlite.protocol;

/** What a client did to one row, as captured in its outbox. */
public enum ChangeKind {
    /** A new row: every column is present in the values. */
    INSERT,
    /** Some columns of an existing row: only the columns that changed are present. */
    UPDATE,
    /** The row was deleted; values are empty. */
    DELETE
}
