package io.syncsqlite.driver.sync;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One row that changed in the local file because of the feed (another device, or PostgreSQL directly), so
 * a UI can refresh exactly what changed.
 *
 * @param table   the local table name
 * @param key     the row's primary key columns and values
 * @param deleted whether the row was deleted
 */
public record RemoteChange(String table, ObjectNode key, boolean deleted) {
}
