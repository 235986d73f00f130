package io.syncsqlite.protocol;

/** What the relay's feed says about one row after a PostgreSQL commit. */
public enum FeedKind {
    /** The row exists with exactly these column values (a full row image, not a patch). */
    UPSERT,
    /** The row no longer exists. */
    DELETE
}
