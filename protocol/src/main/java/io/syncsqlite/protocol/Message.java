package io.syncsqlite.protocol;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

import java.util.List;
import java.util.Objects;

/**
 * Every message of the sync protocol, one JSON object per WebSocket text frame, tagged by {@code type}.
 *
 * <p>The conversation, in order:
 * <ol>
 *   <li>client → {@link Hello} with its node id and feed cursor; relay → {@link Welcome} with the last
 *       client transaction it already applied, so the client resends only what is missing;</li>
 *   <li>client → {@link Push} of committed local transactions (one too large for a message in {@link
 *       PushPart}s); relay → one {@link Ack} or {@link Reject} per transaction, in order, each sent only
 *       after the PostgreSQL commit;</li>
 *   <li>relay → {@link Changes} in commit order (first a snapshot when the cursor is 0); client →
 *       {@link Progress} after applying them, which is also the relay's flow control.</li>
 *   <li>at any time after the welcome: client → {@link IdRequest} for a table with an integer key; relay →
 *       {@link IdGrant} with values drawn from that key's PostgreSQL sequence; client → {@link SchemaRequest}
 *       (sent right behind the hello), relay → {@link Features}, {@link ColumnTypes}, {@link Schema}; client →
 *       {@link ClockCheck} before it settles anything, relay → {@link ClockCheckResult}.</li>
 * </ol>
 * Ordering guarantee: the relay sends the {@code Ack} of a transaction before any {@code Changes} that
 * contain its commit, so a client can hold its own pending values until the feed reaches that commit
 * and never shows server state that lacks its own acknowledged writes.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
        @JsonSubTypes.Type(value = Message.Hello.class, name = "hello"),
        @JsonSubTypes.Type(value = Message.Welcome.class, name = "welcome"),
        @JsonSubTypes.Type(value = Message.Push.class, name = "push"),
        @JsonSubTypes.Type(value = Message.PushPart.class, name = "pushPart"),
        @JsonSubTypes.Type(value = Message.PartReceived.class, name = "partReceived"),
        @JsonSubTypes.Type(value = Message.Ack.class, name = "ack"),
        @JsonSubTypes.Type(value = Message.Reject.class, name = "reject"),
        @JsonSubTypes.Type(value = Message.Changes.class, name = "changes"),
        @JsonSubTypes.Type(value = Message.Progress.class, name = "progress"),
        @JsonSubTypes.Type(value = Message.IdRequest.class, name = "idRequest"),
        @JsonSubTypes.Type(value = Message.IdGrant.class, name = "idGrant"),
        @JsonSubTypes.Type(value = Message.SchemaRequest.class, name = "schemaRequest"),
        @JsonSubTypes.Type(value = Message.Schema.class, name = "schema"),
        @JsonSubTypes.Type(value = Message.ColumnTypes.class, name = "columnTypes"),
        @JsonSubTypes.Type(value = Message.Features.class, name = "features"),
        @JsonSubTypes.Type(value = Message.ClockCheck.class, name = "clockCheck"),
        @JsonSubTypes.Type(value = Message.ClockCheckResult.class, name = "clockCheckResult"),
        @JsonSubTypes.Type(value = Message.Resync.class, name = "resync"),
})
public sealed interface Message {

    int PROTOCOL_VERSION = 1;

    /**
     * The {@link SchemaRequest#version()} from which a relay also sends {@link ColumnTypes} (before the
     * {@link Schema}). Relays before it ignore the version and send the schema alone, and clients before it
     * ask with version 1 and never see a message type they cannot read.
     */
    int COLUMN_TYPES_VERSION = 2;

    /**
     * The {@link SchemaRequest#version()} from which a relay also sends {@link Features} (first). A client
     * sends what a feature adds (such as {@link ClientTx#seen()}) only to a relay that named the feature:
     * relays decode strictly and close on a field they do not know.
     */
    int FEATURES_VERSION = 3;

    /** The feature of a relay that reads {@link ClientTx#seen()}. */
    String FEATURE_SEEN = "seen";

    /** The feature of a relay that answers {@link ClockCheck}. */
    String FEATURE_CLOCKS = "clocks";

    /**
     * The prefix of the feature of a relay that reads {@link PushPart}: {@code "parts:<n>"}, where n is the
     * largest message (in UTF-8 bytes) it accepts; see {@link #partsFeature} and {@link #largestMessage}.
     */
    String FEATURE_PARTS = "parts:";

    /** The feature naming a relay that reads {@link PushPart} and accepts messages of up to {@code maxBytes}. */
    static String partsFeature(int maxBytes) {
        return FEATURE_PARTS + maxBytes;
    }

    /** The largest message a relay announcing these features accepts, if it reads {@link PushPart}; else 0. */
    static int largestMessage(List<String> features) {
        for (String f : features) {
            if (f.startsWith(FEATURE_PARTS)) {
                try {
                    return Math.max(0, Integer.parseInt(f.substring(FEATURE_PARTS.length())));
                } catch (NumberFormatException e) {
                    return 0;
                }
            }
        }
        return 0;
    }

    /** The most transactions one {@link ClockCheck} names. */
    int MAX_CLOCK_CHECK = 10_000;

    /** The largest {@link IdRequest#count()} a relay grants at once. */
    int MAX_ID_REQUEST = 1_000_000;

    /** First client message. {@code cursor} 0 asks for a snapshot. */
    record Hello(int version, String node, long cursor) implements Message {
        public Hello {
            requireNode(node);
            if (cursor < 0) {
                throw new IllegalArgumentException("negative cursor");
            }
        }
    }

    /**
     * The relay's answer to {@link Hello}.
     *
     * @param appliedTx  the highest transaction id of this client already applied (0 if none)
     * @param appliedSeq the feed position of that transaction's commit
     * @param head       the newest feed position at this moment
     * @param resync     the client's cursor lies before the retained history: a full snapshot follows, and
     *                   the client removes local rows the snapshot does not contain (keeping its own
     *                   unsent writes)
     * @param rejected   the rejections the relay recorded for this client, repeated: one whose answer was
     *                   lost with a connection is otherwise settled by {@code appliedTx} as if accepted; the
     *                   client reverts and reports those it still waits for, before it settles the rest
     */
    record Welcome(long appliedTx, long appliedSeq, long head, boolean resync, List<Reject> rejected)
            implements Message {
        public Welcome {
            rejected = List.copyOf(Objects.requireNonNull(rejected, "rejected"));
        }

        public Welcome(long appliedTx, long appliedSeq, long head, boolean resync) {
            this(appliedTx, appliedSeq, head, resync, List.of());
        }

        public Welcome(long appliedTx, long appliedSeq, long head) {
            this(appliedTx, appliedSeq, head, false);
        }
    }

    /** Committed client transactions, in commit order. */
    record Push(List<ClientTx> txs) implements Message {
        public Push {
            txs = List.copyOf(Objects.requireNonNull(txs, "txs"));
        }
    }

    /**
     * One part of a transaction too large for one message (sent only to a relay that named {@link
     * #FEATURE_PARTS}). A transaction's parts follow each other, each with the transaction's id, clock and
     * {@code seen} and the next of its changes in order; the relay applies the whole transaction when the
     * part with {@code last} arrives, and answers it as one pushed in a {@link Push}. Parts of a transaction
     * whose last part never came are dropped with the connection.
     */
    record PushPart(ClientTx tx, boolean last) implements Message {
        public PushPart {
            Objects.requireNonNull(tx, "tx");
        }
    }

    /**
     * The relay has a part of transaction {@code tx} that is not its last: it answers the transaction only
     * after the last part, which on a slow uplink may be minutes away, and the client would otherwise take
     * its silence for a dead connection. Sent only to clients that send {@link PushPart}s.
     */
    record PartReceived(long tx) implements Message {
    }

    /** Transaction {@code tx} is durably applied; its result is in the feed at position {@code seq}. */
    record Ack(long tx, long seq) implements Message {
    }

    /**
     * PostgreSQL refused transaction {@code tx} (a constraint, a permission, a value it cannot store).
     * Nothing of it was applied. {@code current} holds the server's rows for every row the
     * transaction touched, so the client can revert exactly that transaction.
     */
    record Reject(long tx, String sqlState, String reason, List<FeedEntry> current) implements Message {
        public Reject {
            Objects.requireNonNull(reason, "reason");
            current = List.copyOf(Objects.requireNonNull(current, "current"));
        }
    }

    /**
     * Row states in commit order. After applying them the client's cursor becomes {@code through}
     * (unchanged when {@code through} is 0, as within a snapshot that is not yet complete).
     * {@code snapshotTotal} is the number of rows of the snapshot being sent, or 0 outside a snapshot.
     */
    record Changes(List<FeedEntry> entries, long through, long snapshotTotal) implements Message {
        public Changes {
            entries = List.copyOf(Objects.requireNonNull(entries, "entries"));
        }
    }

    /** The client has applied the feed through {@code cursor}. */
    record Progress(long cursor) implements Message {
    }

    /**
     * Asks for {@code count} fresh values of the integer primary key of {@code table}, so that rows inserted
     * without a key (SQLite's {@code INTEGER PRIMARY KEY}, JPA's {@code IDENTITY}) never collide across
     * clients, even when they are created offline.
     */
    record IdRequest(String table, int count) implements Message {
        public IdRequest {
            Objects.requireNonNull(table, "table");
            if (count < 1 || count > MAX_ID_REQUEST) {
                throw new IllegalArgumentException("id request count must be 1.." + MAX_ID_REQUEST);
            }
        }
    }

    /**
     * The answer to {@link IdRequest}: {@code ranges} reserved for this client, in ascending order (usually
     * one; several when other writers drew from the same sequence meanwhile). When the relay cannot allocate
     * keys for the table, {@code ranges} is empty and {@code error} says why.
     */
    record IdGrant(String table, List<IdRange> ranges, String error) implements Message {
        public IdGrant {
            Objects.requireNonNull(table, "table");
            ranges = List.copyOf(Objects.requireNonNull(ranges, "ranges"));
        }
    }

    /**
     * Relay to client, mid-session: what the client may see has changed (a per-user scope gained or lost
     * rows), so a full snapshot of its scope follows, exactly as after a {@link Welcome} with
     * {@code resync}: the client removes local rows the snapshot does not contain, keeping its own unsent
     * writes.
     *
     * @param head the newest feed position before the snapshot (its entries are at least this recent)
     */
    record Resync(long head) implements Message {
    }

    /**
     * Asks for the synced tables' definitions: a client checks its tables against them, or creates its tables
     * from them. Sent right behind the hello; the relay answers in turn ({@link ColumnTypes} first from
     * {@link #COLUMN_TYPES_VERSION}, then {@link Schema}).
     */
    record SchemaRequest(int version) implements Message {
    }

    /**
     * What this relay understands beyond {@link #PROTOCOL_VERSION}: sent first to a {@link SchemaRequest}
     * of {@link #FEATURES_VERSION} or later (so clients before it never see it), for this connection.
     */
    record Features(List<String> names) implements Message {
        public Features {
            names = List.copyOf(Objects.requireNonNull(names, "names"));
        }
    }

    /**
     * Transactions of this client at or below the welcome's {@code appliedTx} that still wait for their
     * answer (ids ascending, with their clocks): were they applied under these ids? A resend was, with the
     * same clock; a transaction that a copy of the node's file wrote was not ({@link NodeCopies}). Sent, after
     * the schema, only to a relay that named {@link #FEATURE_CLOCKS}, and only when there are such
     * transactions (after a lost acknowledgement, or in a copy).
     */
    record ClockCheck(List<Long> txs, List<Long> hlcs) implements Message {
        public ClockCheck {
            txs = List.copyOf(Objects.requireNonNull(txs, "txs"));
            hlcs = List.copyOf(Objects.requireNonNull(hlcs, "hlcs"));
            if (txs.size() != hlcs.size() || txs.isEmpty() || txs.size() > MAX_CLOCK_CHECK) {
                throw new IllegalArgumentException("a clock check names 1 to " + MAX_CLOCK_CHECK
                        + " transactions, each with its clock");
            }
        }
    }

    /**
     * The answer to a {@link ClockCheck}: the first of its transactions that the relay did not apply under its
     * id (the file that wrote it is a copy of the node's), or 0 when all are resends.
     */
    record ClockCheckResult(long firstCopied) implements Message {
    }

    /** The synced tables as SQLite should declare them (see {@code sync.schema=server}). */
    record Schema(List<TableDef> tables) implements Message {
        public Schema {
            tables = List.copyOf(Objects.requireNonNull(tables, "tables"));
        }

        /** One table: its columns in order, and its primary key columns in key order. */
        public record TableDef(String name, List<ColumnDef> columns, List<String> primaryKey) {
            public TableDef {
                columns = List.copyOf(columns);
                primaryKey = List.copyOf(primaryKey);
            }
        }

        /** One column: its name and the SQLite type to declare it with. */
        public record ColumnDef(String name, String sqliteType) {
        }
    }

    /**
     * PostgreSQL's type of each synced column ({@code pg_type.typname} of the column's base type: {@code date},
     * {@code timestamptz}, {@code uuid}, ...), per table, as the relay has them; the client converts the
     * values whose SQLite form PostgreSQL cannot take or give back as such (dates as epoch milliseconds,
     * UUIDs as 16-byte BLOBs: docs/DESIGN.md, "Dates, times and UUIDs").
     */
    record ColumnTypes(java.util.Map<String, java.util.Map<String, String>> tables) implements Message {
        /**
         * The types whose values a client converts: a client must know a column of these types before it
         * uploads to it (the relay makes it reconnect for fresh types when a push names one it was not sent).
         */
        public static final java.util.Set<String> CONVERTED =
                java.util.Set.of("date", "time", "timetz", "timestamp", "timestamptz", "uuid");

        public ColumnTypes {
            tables = java.util.Map.copyOf(Objects.requireNonNull(tables, "tables"));
        }
    }

    private static void requireNode(String node) {
        if (node == null || node.isEmpty() || node.length() > 64) {
            throw new IllegalArgumentException("node id must have 1 to 64 characters");
        }
    }

    /**
     * Why {@code node} cannot be a client's node id, or null if it can: 1 to 64 characters, none a control
     * character (it is printed in logs and close reasons), not starting with {@code ~}, which names PostgreSQL's
     * own writers in the change log ({@code ~pg}). The relay refuses such a hello; the driver refuses the
     * {@code sync.node} option at connect, where a relay's refusal would only show as sync that never runs.
     */
    static String nodeIdProblem(String node) {
        if (node == null || node.isEmpty() || node.length() > 64) {
            return "node id must have 1 to 64 characters";
        }
        if (node.startsWith("~")) {
            return "node ids starting with ~ are reserved";
        }
        if (node.chars().anyMatch(ch -> ch < 0x20 || ch == 0x7f)) {
            return "node id contains control characters";
        }
        return null;
    }
}
