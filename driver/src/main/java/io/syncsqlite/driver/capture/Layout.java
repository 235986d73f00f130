package io.syncsqlite.driver.capture;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.syncsqlite.protocol.MessageCodec;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;

/**
 * Which table column each outbox value column {@code v0, v1, ...} holds, for rows captured typed (see
 * {@link OutboxDecoder}): {@code columns.get(i)} is in {@code v<i>}. Recorded once per table shape in
 * {@code _sync_layouts} and named by id in the trigger text, so a row stays readable after its table is
 * altered: a new shape gets a new id and the rows captured before keep theirs.
 *
 * @param columns the table's columns in declaration order
 * @param pk      its primary-key columns in key order
 *
 * <p>Immutable; thread-safe.
 */
public record Layout(List<String> columns, List<String> pk) {

    public Layout {
        columns = List.copyOf(columns);
        pk = List.copyOf(pk);
    }

    static Layout of(TableInfo t) {
        return new Layout(t.columns().stream().map(TableInfo.Column::name).toList(), t.pk());
    }

    /** Whether rows of {@code t} are captured typed: it has a key and its columns fit the outbox's value columns. */
    static boolean typed(TableInfo t) {
        return t.hasPrimaryKey() && t.columns().size() <= Outbox.VALUE_COLUMNS;
    }

    /** The id of this layout for {@code table}, recorded now if it is new. Call inside a write transaction. */
    long id(Connection conn, String table) throws SQLException {
        String cols = json(columns);
        String key = json(pk);
        for (int attempt = 0; ; attempt++) {
            try (PreparedStatement find = conn.prepareStatement(
                    "SELECT id FROM _sync_layouts WHERE tbl = ? AND cols = ? AND pk = ?")) {
                find.setString(1, table);
                find.setString(2, cols);
                find.setString(3, key);
                try (ResultSet rs = find.executeQuery()) {
                    if (rs.next()) {
                        return rs.getLong(1);
                    }
                }
            }
            if (attempt > 0) {
                throw new SQLException("capture layout of " + table + " was not recorded", "XX000");
            }
            try (PreparedStatement add = conn.prepareStatement("INSERT INTO _sync_layouts (tbl, cols, pk) VALUES (?, ?, ?)")) {
                add.setString(1, table);
                add.setString(2, cols);
                add.setString(3, key);
                add.executeUpdate();
            }
        }
    }

    private static String json(List<String> names) throws SQLException {
        try {
            return MessageCodec.JSON.writeValueAsString(names);
        } catch (JsonProcessingException e) {
            throw new SQLException("cannot encode capture layout", e);
        }
    }
}
