package io.syncsqlite.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;

import java.io.IOException;
import java.util.List;
import java.util.Objects;

/**
 * One committed local SQLite transaction of a client, as it travels to the relay.
 *
 * @param id      the client's transaction number: strictly increasing per client, so the relay can tell
 *                a resend from new work (idempotent apply)
 * @param hlc     the single HLC timestamp stamped at local commit, shared by every change of the
 *                transaction
 * @param changes the row changes in the order they were made
 * @param seen    the feed position the client had applied when it made the transaction: every commit up to
 *                it was in its file, none after it was (a delete then removes only the rows the client could
 *                see, see docs/DESIGN.md "Referential integrity"); null when unknown (older clients, and
 *                transactions made before a client recorded it), and omitted from the JSON then
 */
@JsonDeserialize(using = ClientTx.Decoder.class)
public record ClientTx(long id, long hlc, List<RowChange> changes,
                       @JsonInclude(JsonInclude.Include.NON_NULL) Long seen) {
    public ClientTx {
        if (id <= 0) {
            throw new IllegalArgumentException("transaction id must be positive: " + id);
        }
        Hlc.unpack(hlc);
        changes = List.copyOf(Objects.requireNonNull(changes, "changes"));
        if (seen != null && seen < 0) {
            throw new IllegalArgumentException("negative seen position: " + seen);
        }
    }

    /** A transaction whose writer's feed position is unknown. */
    public ClientTx(long id, long hlc, List<RowChange> changes) {
        this(id, hlc, changes, null);
    }

    /**
     * Reads a transaction as strictly as the mapper reads every other message (unknown fields, missing
     * fields, numbers of the wrong kind are refused), except that {@code seen} may be absent: clients
     * before it never send it, and the mapper's rule that every creator property be present
     * (FAIL_ON_MISSING_CREATOR_PROPERTIES) has no exception per property.
     */
    static final class Decoder extends StdDeserializer<ClientTx> {

        Decoder() {
            super(ClientTx.class);
        }

        @Override
        public ClientTx deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            // Streamed, not read into a tree first: a push of 10,000 row changes is read once.
            if (!p.isExpectedStartObjectToken()) {
                return ctxt.reportInputMismatch(ClientTx.class, "a transaction must be an object");
            }
            Long id = null;
            Long hlc = null;
            Long seen = null;
            List<RowChange> changes = null;
            for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
                String name = p.currentName();
                p.nextToken();
                switch (name) {
                    case "id" -> id = integer(p, ctxt, name);
                    case "hlc" -> hlc = integer(p, ctxt, name);
                    case "seen" -> seen = p.currentToken() == JsonToken.VALUE_NULL ? null : integer(p, ctxt, name);
                    case "changes" -> {
                        if (!p.isExpectedStartArrayToken()) {
                            return ctxt.reportInputMismatch(ClientTx.class, "a transaction's changes must be an array");
                        }
                        changes = ctxt.readValue(p, ctxt.getTypeFactory().constructCollectionType(List.class, RowChange.class));
                    }
                    default -> {
                        return ctxt.reportInputMismatch(ClientTx.class, "unknown field '%s' in a transaction", name);
                    }
                }
            }
            if (id == null || hlc == null || changes == null) {
                return ctxt.reportInputMismatch(ClientTx.class, "a transaction needs id, hlc and changes");
            }
            try {
                return new ClientTx(id, hlc, changes, seen);
            } catch (IllegalArgumentException | NullPointerException e) {
                return ctxt.reportInputMismatch(ClientTx.class, "invalid transaction: %s", e.getMessage());
            }
        }

        private static long integer(JsonParser p, DeserializationContext ctxt, String field) throws IOException {
            if (p.currentToken() != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                ctxt.reportInputMismatch(ClientTx.class, "a transaction's '%s' must be an integer", field);
            }
            return p.getLongValue();
        }
    }
}
