package io.syncsqlite.driver.capture;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.StringJoiner;

/**
 * The driver's bookkeeping tables inside the application's SQLite file, and the SQL that maintains them.
 *
 * <ul>
 *   <li>{@code _sync_outbox}: one row per captured row change, appended by the capture triggers in the
 *       writer's own transaction. With SQLite's single writer, the rows of one transaction are one
 *       contiguous range of {@code seq}. The last row of a committed transaction carries its HLC: that
 *       row is the transaction's <em>marker</em>, and its {@code seq} is the transaction id sent to the
 *       relay. {@code ack} on a marker is the feed position the relay acknowledged the transaction at.</li>
 *   <li>{@code _sync_state}: key/value: node id, feed cursor, file {@linkplain #FORMAT format};
 *       {@value #SNAPSHOT_NEEDED} while a table
 *       that became synced waits for the snapshot that brings its rows, and {@value #RESYNC_PENDING} from
 *       the start of a snapshot that replaces what the file holds until the transaction that completes it.</li>
 *   <li>{@code _sync_tables}: the trigger text installed per synced table, to detect drift.</li>
 *   <li>{@code _sync_layouts}: which table column each value column of a typed outbox row holds
 *       ({@link Layout}).</li>
 * </ul>
 *
 * <p>Why the stamp is an UPDATE of the transaction's own last outbox row: an INSERT would change
 * {@code last_insert_rowid()}, which Hibernate and {@code getGeneratedKeys} read right after the
 * application's insert; and a separate table would add pages to every commit, which is what an auto-commit
 * write pays for most (each page is one more WAL frame). The last outbox row sits on a page the
 * transaction has already dirtied.
 *
 * <p>Transaction ids must only grow, or the relay would take new work for a resend: {@code seq} is a
 * rowid, so the newest settled marker is never deleted (pruning turns it into an empty anchor row), and
 * {@code max(seq) + 1} stays above every id ever sent.
 *
 * <p>Stateless; thread-safe.
 */
public final class Outbox {

    /** An anchor: a settled marker whose change was pruned; it only keeps {@code seq} growing. */
    public static final int OP_NONE = 0;
    public static final int OP_INSERT = 1;
    public static final int OP_UPDATE = 2;
    public static final int OP_DELETE = 3;

    /**
     * The SET list that turns a marker into an anchor ({@link #OP_NONE}): its row image goes, so the file
     * keeps no copy of a row that may since have been deleted.
     */
    public static final String EMPTY_ANCHOR = "op = " + OP_NONE + ", pk = NULL, vals = NULL, changed = NULL, deltas = NULL,"
            + " layout = NULL, " + valueColumns(" = NULL");

    /**
     * The newest clock the file holds: the one the syncing process records as it applies the feed, and the
     * newest stamp, of any process (the scan back from the end passes only the current transaction's
     * unstamped rows). A process stamping after it keeps transaction ids and clocks growing together in the
     * file (NodeCopies relies on it) and orders its write after the other's.
     */
    public static final String NEWEST_CLOCK = "SELECT max(coalesce((SELECT v FROM _sync_state WHERE k = 'hlc'), 0),"
            + " coalesce((SELECT hlc FROM _sync_outbox WHERE hlc IS NOT NULL ORDER BY seq DESC LIMIT 1), 0))";

    /** Stamps the current transaction: bind the new HLC. Does nothing when the transaction captured nothing. */
    public static final String STAMP = "UPDATE _sync_outbox SET hlc = ?"
            + " WHERE seq = (SELECT max(seq) FROM _sync_outbox) AND hlc IS NULL";

    /**
     * The {@code _sync_state} key recording that the next connection must start from a snapshot: a table
     * became synced after feed positions were passed, so rows of it already streamed were skipped. Written in
     * the transaction that installs the table's capture (the application's own, for DDL in a transaction), so
     * the request is exactly as durable as the table itself, and taken by the sync client as it resets the cursor.
     */
    public static final String SNAPSHOT_NEEDED = "snapshot_needed";

    /**
     * The {@code _sync_state} key present while a snapshot that replaces the file's rows is under way (a
     * resync: rows it does not bring are removed when it completes). Set durably when it begins, deleted in
     * the transaction that removes those rows; found at a connect, it starts the resync again from cursor 0.
     */
    public static final String RESYNC_PENDING = "resync_pending";

    // A counter, so that taking a request read before the hello leaves a newer one for the next connection.
    static final String REQUEST_SNAPSHOT = "INSERT INTO _sync_state (k, v) VALUES ('" + SNAPSHOT_NEEDED + "', 1)"
            + " ON CONFLICT (k) DO UPDATE SET v = v + 1";

    /**
     * How many value columns ({@code v0 ...}) the outbox has for typed capture (see
     * {@link OutboxDecoder}). Fixed, not grown to the widest table: every declared column costs each captured
     * row a little even when NULL (about 7 ns per column here, so 64 columns ate the whole gain over JSON),
     * and a fixed list keeps every reader's SELECT the same. Wider tables are captured as JSON.
     */
    public static final int VALUE_COLUMNS = 16;

    /**
     * A table holding one row while, and only inside, a sync client's transaction that writes synced tables
     * for other nodes (feed, revert of a rejection, end of a resync): the capture triggers skip those writes
     * ({@link TriggerSql#NOT_APPLYING}), and an application trigger that writes synced tables guards itself
     * the same way, with {@code WHEN NOT EXISTS (SELECT 1 FROM _sync_applying)}.
     */
    public static final String APPLYING = "_sync_applying";

    /**
     * A table holding one row while, and only inside, a statement of the application that resolves
     * conflicts by REPLACE runs: the capture triggers of tables with UNIQUE keys besides their primary key
     * then record the deletes of the rows it evicts ({@code TriggerSql}, evictions). The row holds the
     * outbox's end before the statement ({@code mark}) and whether a trigger logged a delete ({@code evicted}).
     */
    public static final String REPLACING = "_sync_replacing";

    private static final String[] DDL = {
        "CREATE TABLE IF NOT EXISTS _sync_outbox (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, op INTEGER NOT NULL,"
                + " pk TEXT, vals TEXT, changed TEXT, hlc INTEGER, ack INTEGER, deltas TEXT, layout INTEGER, "
                + valueColumns(" BLOB") + ")",
        "CREATE TABLE IF NOT EXISTS _sync_layouts (id INTEGER PRIMARY KEY, tbl TEXT NOT NULL, cols TEXT NOT NULL,"
                + " pk TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS _sync_state (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS " + APPLYING + " (applying INTEGER)",
        "CREATE TABLE IF NOT EXISTS " + REPLACING + " (mark INTEGER, evicted INTEGER)",
        "CREATE TABLE IF NOT EXISTS _sync_tables (name TEXT PRIMARY KEY, triggers TEXT NOT NULL)",
        // Integer key ranges the relay reserved for this node, per table (lower-case name).
        "CREATE TABLE IF NOT EXISTS _sync_idblock (tbl TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,"
                + " PRIMARY KEY (tbl, lo)) WITHOUT ROWID",
        // What each local transaction had seen of the feed: an outbox row after seq was written once the file
        // held the feed up to cursor (the sync client records a pair each time it applies the feed). Written by
        // the sync client only, so capture pays nothing for it; pairs no unsettled transaction needs are pruned.
        "CREATE TABLE IF NOT EXISTS _sync_seen (seq INTEGER PRIMARY KEY, cursor INTEGER NOT NULL)",
        // Rejections the process syncing the file handled (reverted), for the other processes on the file,
        // whose listeners are told of those of their own transactions (the newest 1,000 are kept).
        "CREATE TABLE IF NOT EXISTS _sync_rejected (tx INTEGER PRIMARY KEY, sql_state TEXT NOT NULL,"
                + " reason TEXT NOT NULL, changes TEXT NOT NULL)",
    };

    private Outbox() {
    }

    /**
     * Records where the outbox ends, right before a counter statement, for {@link #ANNOTATE_DELTAS}. A write,
     * not a read: in WAL mode a read snapshot taken before a transaction's first write fails that write with
     * SQLITE_BUSY_SNAPSHOT as soon as another connection (the sync client, another program) has committed,
     * while a statement that writes takes its snapshot and the write lock together.
     */
    public static final String MARK_END = "INSERT INTO _sync_state (k, v) VALUES ('outbox_mark',"
            + " (SELECT coalesce(max(seq), 0) FROM _sync_outbox)) ON CONFLICT (k) DO UPDATE SET v = excluded.v";

    /**
     * Marks the rows a counter statement just captured with the amounts it added (JSON object): the rows of
     * its table after {@link #MARK_END}. Counting back {@code changes()} rows instead went wrong twice: rows
     * that the application's triggers captured in other tables are not counted by it, and rows the statement
     * changed without changing a value (a NULL counter stays NULL) are counted but not captured, so the count
     * reached back to an earlier statement's rows.
     */
    public static final String ANNOTATE_DELTAS = "UPDATE _sync_outbox SET deltas = ? WHERE seq >"
            + " (SELECT v FROM _sync_state WHERE k = 'outbox_mark') AND op IN (1, 2) AND tbl = ? COLLATE NOCASE";

    /** Whether the file holds a snapshot request not yet taken by a sync client ({@link #SNAPSHOT_NEEDED}). */
    public static boolean snapshotRequested(Connection conn) throws SQLException {
        try (java.sql.PreparedStatement ps = conn.prepareStatement("SELECT 1 FROM _sync_state WHERE k = ?")) {
            ps.setString(1, SNAPSHOT_NEEDED);
            try (java.sql.ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /**
     * The layout of the bookkeeping tables this driver writes, kept in {@code _sync_state} under
     * {@value #FORMAT_KEY}: 2 since typed capture (1, implied by its absence, before), 3 since typed updates
     * store marked change masks ({@link TriggerSql#MARKED}; a driver of format 2 would read such a mask as "no
     * column changed" and send updates without their values). A file of a newer format is refused rather than
     * misread: an older driver cannot know what a newer one stores (a driver before format 2 misreads typed rows,
     * which is why this key now exists). Rows of every older format stay readable.
     */
    public static final int FORMAT = 3;

    static final String FORMAT_KEY = "format";

    /**
     * Creates the bookkeeping tables if missing and brings those of an older format up to {@link #FORMAT}.
     * Call inside a write transaction.
     *
     * @throws SQLException SY003 for a file written by a newer driver
     */
    public static void create(Connection conn) throws SQLException {
        try (Statement st = conn.createStatement()) {
            for (String sql : DDL) {
                st.execute(sql);
            }
            // A committed row here would turn capture off for every connection (TriggerSql.NOT_APPLYING). The sync
            // client deletes its row before it commits, so none should be; one left by a mistake must not cost the
            // application its writes. Deleted only when seen: a DELETE would take the write lock at every open.
            try (java.sql.ResultSet rs = st.executeQuery("SELECT 1 FROM " + APPLYING + " LIMIT 1")) {
                if (rs.next()) {
                    st.execute("DELETE FROM " + APPLYING);
                }
            }
            long format = 1;
            try (java.sql.ResultSet rs = st.executeQuery("SELECT v FROM _sync_state WHERE k = '" + FORMAT_KEY + "'")) {
                if (rs.next()) {
                    format = rs.getLong(1);
                }
            }
            if (format > FORMAT) {
                throw new SQLException("this SQLite file was written by a newer syncsqlite (file format " + format
                        + "); this driver reads format " + FORMAT + " and older: upgrade the driver", "SY003");
            }
            if (format < FORMAT) {
                st.execute("INSERT INTO _sync_state (k, v) VALUES ('" + FORMAT_KEY + "', " + FORMAT + ")"
                        + " ON CONFLICT (k) DO UPDATE SET v = excluded.v");
            }
            if (!hasColumn(st, "deltas")) {
                // files created before counters existed
                st.execute("ALTER TABLE _sync_outbox ADD COLUMN deltas TEXT");
            }
            if (!hasColumn(st, "layout")) {
                // files created before typed capture: their rows keep their JSON, new rows are typed
                st.execute("ALTER TABLE _sync_outbox ADD COLUMN layout INTEGER");
                for (int i = 0; i < VALUE_COLUMNS; i++) {
                    st.execute("ALTER TABLE _sync_outbox ADD COLUMN v" + i + " BLOB");
                }
            }
        }
    }

    private static boolean hasColumn(Statement st, String name) throws SQLException {
        try (java.sql.ResultSet rs = st.executeQuery(
                "SELECT 1 FROM pragma_table_info('_sync_outbox') WHERE name = '" + name + "'")) {
            return rs.next();
        }
    }

    /** {@code v0, v1, ...}: the value columns, for a SELECT list. */
    static String valueColumnList() {
        return valueColumns("");
    }

    /**
     * Declared BLOB, the affinity that converts nothing, so each value keeps its storage class. Not
     * without a type, which converts nothing either: an empty type name breaks Hibernate's schema update,
     * which splits every column's type name it reads from the catalog (JpaTwoClientsTest).
     */
    private static String valueColumns(String type) {
        StringJoiner j = new StringJoiner(", ");
        for (int i = 0; i < VALUE_COLUMNS; i++) {
            j.add("v" + i + type);
        }
        return j.toString();
    }
}
