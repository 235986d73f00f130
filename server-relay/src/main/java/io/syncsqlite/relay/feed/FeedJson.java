package io.syncsqlite.relay.feed;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.syncsqlite.protocol.MessageCodec;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Builds {@code changes} frames from PostgreSQL's JSON text directly. PostgreSQL already produces the row
 * and key JSON, so the relay splices it into the message instead of parsing it into trees and encoding
 * it again for every client; the result is exactly what {@link MessageCodec} would produce for a
 * {@link io.syncsqlite.protocol.Message.Changes} of {@link io.syncsqlite.protocol.FeedEntry}s.
 *
 * <p>Thread-safe: stateless apart from a concurrent cache of encoded table names.
 */
public final class FeedJson {

    private static final Map<String, String> QUOTED = new ConcurrentHashMap<>();

    private FeedJson() {
    }

    /**
     * One encoded FeedEntry.
     *
     * @param pkJson  PostgreSQL's JSON text of the key object
     * @param rowJson PostgreSQL's JSON text of the row, {@code null} for a delete
     */
    public static String entry(long seq, String table, String pkJson, String rowJson, long hlc) {
        StringBuilder sb = new StringBuilder(64 + pkJson.length() + (rowJson == null ? 4 : rowJson.length()));
        sb.append("{\"seq\":").append(seq)
                .append(",\"table\":").append(quoted(table))
                .append(",\"kind\":").append(rowJson == null ? "\"DELETE\"" : "\"UPSERT\"")
                .append(",\"pk\":").append(pkJson)
                .append(",\"row\":").append(rowJson == null ? "null" : rowJson)
                .append(",\"hlc\":").append(hlc)
                .append('}');
        return sb.toString();
    }

    /** A complete {@code changes} frame. */
    public static String changes(List<String> entries, long through, long snapshotTotal) {
        int size = 80;
        for (String e : entries) {
            size += e.length() + 1;
        }
        StringBuilder sb = new StringBuilder(size);
        sb.append("{\"type\":\"changes\",\"entries\":[");
        for (int i = 0; i < entries.size(); i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(entries.get(i));
        }
        return sb.append("],\"through\":").append(through)
                .append(",\"snapshotTotal\":").append(snapshotTotal)
                .append('}').toString();
    }

    private static String quoted(String table) {
        return QUOTED.computeIfAbsent(table, t -> {
            try {
                return MessageCodec.JSON.writeValueAsString(t);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        });
    }
}
