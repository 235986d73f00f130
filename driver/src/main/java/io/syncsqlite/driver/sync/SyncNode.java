package io.syncsqlite.driver.sync;

import io.syncsqlite.driver.capture.CaptureInstaller;
import io.syncsqlite.driver.capture.Outbox;
import io.syncsqlite.driver.capture.SchemaReader;
import io.syncsqlite.driver.capture.TableInfo;
import io.syncsqlite.driver.capture.TriggerSql;
import io.syncsqlite.driver.config.SyncUrl;
import io.syncsqlite.driver.jdbc.SyncSqlState;
import io.syncsqlite.driver.sql.KeyRewriter;
import io.syncsqlite.driver.sql.SqlInfo;
import io.syncsqlite.driver.sql.StatementKind;
import io.syncsqlite.protocol.HybridClock;

import java.io.File;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One synced SQLite file inside this JVM: its node id, its hybrid logical clock, the set of synced tables
 * and the background {@link SyncClient}. Every driver connection to the same file shares one node, so
 * the clock is monotonic across connections and one client syncs the file.
 *
 * <p>Nodes are reference-counted by open connections and stop their client {@code sync.lingerMs} after
 * the last connection closes (an application that opens a connection per request keeps syncing).
 *
 * <p>Thread-safe.
 */
public final class SyncNode {

    private static final System.Logger LOG = System.getLogger(SyncNode.class.getName());
    private static final Map<String, SyncNode> NODES = new ConcurrentHashMap<>();
    private static final ScheduledExecutorService LINGER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "syncsqlite-linger");
        t.setDaemon(true);
        return t;
    });

    private final String key;
    private final SyncUrl config;
    private final String nodeId;
    private final HybridClock clock;
    private final CopyOnWriteArrayList<Consumer<Set<String>>> listeners = new CopyOnWriteArrayList<>();
    private final CopyOnWriteArrayList<Consumer<Rejection>> rejectionListeners = new CopyOnWriteArrayList<>();
    private final CopyOnWriteArrayList<Consumer<List<RemoteChange>>> rowListeners = new CopyOnWriteArrayList<>();
    private final CopyOnWriteArrayList<Consumer<SnapshotProgress>> snapshotListeners = new CopyOnWriteArrayList<>();
    private volatile java.util.function.Supplier<String> tokenSupplier;
    private volatile Map<String, TableInfo> synced;
    /** Lower-case names of synced tables whose ids come from a sequence table: they take key ranges too. */
    private final Set<String> sequenced = ConcurrentHashMap.newKeySet();
    /**
     * Per lower-case table name: the run of ids its sequence table hands out now, {lo, hi}. Guarded by
     * itself, not by the node: a bump may wait for key ranges, which the sync thread receives only after
     * calls that lock the node.
     */
    private final Map<String, long[]> sequenceRuns = new java.util.HashMap<>();
    /** Per lower-case table name: the sequence's value after its last bump, and that bump's size; guarded by sequenceRuns. */
    private final Map<String, Long> sequenceNext = new java.util.HashMap<>();
    private final Map<String, Long> sequenceIncrements = new java.util.HashMap<>();
    /** The key of a sequence's run in {@code _sync_state}, followed by the lower-case table name. */
    static final String SEQUENCE_KEY = "sequence:";
    /** JPA's default allocation size, assumed until a sequence's first bump shows its own. */
    private static final long DEFAULT_ALLOCATION = 50;
    private final KeyStock keys;
    /** Rewritten INSERTs by SQL text (see {@link KeyRewriter}); cleared when the synced tables change. */
    private final Map<String, Optional<KeyRewriter.KeyedInsert>> keyedInserts = new ConcurrentHashMap<>();
    /** Upserts without a column list, by SQL text, with their counters read against this file's columns. */
    private final Map<String, SqlInfo> unnamedUpserts = new ConcurrentHashMap<>();
    private final SyncClient client;
    /**
     * Application transactions and the sync client's write transactions keep out of each other (see
     * {@link #appTransaction}); these three are guarded by {@code gate}.
     */
    private final Object gate = new Object();
    private final Set<Object> appTransactions = new java.util.HashSet<>();
    /** Written under {@link #gate}; volatile for {@link #appRead}'s look without it (as {@link #syncWaiting}). */
    private volatile boolean syncWriting;
    private volatile boolean syncWaiting;
    /**
     * Set while the sync client, past {@link #SYNC_WAIT_MS}, waits on for application work that is still running:
     * new application transactions and queries go ahead meanwhile instead of waiting for it. Volatile as
     * {@link #syncWaiting}.
     */
    private volatile boolean syncYields;
    /** The node's open driver connections, for the sync client to tell which of them still work ({@link Watch}). */
    private final Set<GateHolder> connections = ConcurrentHashMap.newKeySet();
    private int references;
    private ScheduledFuture<?> pendingClose;
    private boolean closed;

    private SyncNode(String key, SyncUrl config, String nodeId, HybridClock clock, Map<String, TableInfo> synced,
                     KeyStock keys, Connection clientDb, boolean relaxedSync, javax.net.ssl.SSLContext tls,
                     SyncLock lock) {
        this.key = key;
        this.config = config;
        this.nodeId = nodeId;
        this.clock = clock;
        this.synced = synced;
        this.keys = keys;
        if (clientDb != null) {
            LocalStore store = new LocalStore(clientDb, clock, () -> this.synced, config.counters(),
                    syncGate);
            store.relaxed(relaxedSync);
            this.client = new SyncClient(config, nodeId, store, keys, this::keyedTables, this::fireRemoteChange,
                    this::fireRejection, this::fireSnapshotProgress, this::token, tls,
                    c -> refreshCapture(c, false),
                    c -> publish(CaptureInstaller.syncedTables(c, config.tables()), false, readSchema(c)),
                    lock, c -> keys.reload(c, this.synced));
            SyncClient c = this.client;
            keys.onLow(c::keysLow);
        } else {
            this.client = null;
        }
    }

    /**
     * The node of the file {@code config} names, opening it on first use.
     * {@code firstConnection} is the application's raw connection, used to install capture.
     */
    public static SyncNode acquire(SyncUrl config, Connection firstConnection) throws SQLException {
        if (!config.isFile()) {
            // An in-memory database exists only inside its connection: capture works, sync cannot run.
            SyncNode node = open("memory:" + System.identityHashCode(firstConnection), config, firstConnection, false);
            node.references = 1;
            return node;
        }
        String key = canonical(databaseFile(firstConnection, config.path()));
        while (true) {
            SyncNode node = NODES.get(key);
            if (node == null) {
                synchronized (NODES) {
                    node = NODES.get(key);
                    if (node == null) {
                        node = open(key, config, firstConnection, true);
                        NODES.put(key, node);
                    }
                }
            }
            synchronized (node) {
                if (!node.closed) {
                    // A connection that asks nothing of the sync (no sync.* option) joins the node as it is.
                    List<String> differ = config.syncDefaults() ? List.of() : node.config.differences(config);
                    if (!differ.isEmpty() && node.references == 0) {
                        // Lingering after its last connection: this connection's options take over. Before, it
                        // joined the lingering node and its own were ignored, so a connection with sync.server
                        // opened within sync.lingerMs of a capture-only one (a migration's) never synced.
                        if (node.pendingClose != null) {
                            node.pendingClose.cancel(false);
                            node.pendingClose = null;
                        }
                        node.closeNow();
                        continue;
                    }
                    if (!differ.isEmpty()) {
                        // One file, one sync: a second set of options cannot apply while the first is in use.
                        throw new SQLException("database " + key + " is already open in this JVM with other sync"
                                + " options (" + String.join(", ", differ) + " differ); every connection to a file"
                                + " shares its sync, so open them with the same sync.* options",
                                SyncSqlState.INVALID_PARAMETER.code());
                    }
                    node.references++;
                    if (node.pendingClose != null) {
                        node.pendingClose.cancel(false);
                        node.pendingClose = null;
                    }
                    return node;
                }
            }
        }
    }

    /**
     * Lets the sync client's own commits skip the sync to disk (synchronous=NORMAL) when the file is in
     * WAL mode. What that connection writes can mostly be fetched again from the relay: acknowledgements
     * (the relay's Welcome repeats them), feed rows together with their cursor (fetched again from the
     * older cursor), the pruning of settled outbox rows (pruned again), a rejected transaction's revert
     * (the relay logged the rows' current images into the feed). The rest is committed with FULL
     * (LocalStore.durably): stamps of rows other programs wrote (a decision of this node the relay keeps),
     * a reset cursor (only this file knows a table became synced) and the feed batch that completes a
     * snapshot (the relay will not send it again). In WAL mode a commit without the sync
     * may be lost by a power failure, never half applied, and an application commit made after it with
     * its own sync makes it durable too (the log is sequential). The sync cost about 1 ms per
     * acknowledgement, on the thread that also applies the feed (docs/BENCHMARKS.md). Never raised: an
     * application that chose a lower level for the file gets it here too. Not in rollback-journal mode,
     * where NORMAL can corrupt the file on power loss.
     *
     * @return whether the level was lowered (the connection then raises it for those few transactions)
     */
    private static boolean relaxSync(Statement st) throws SQLException {
        try (ResultSet mode = st.executeQuery("PRAGMA journal_mode")) {
            if (!mode.next() || !"wal".equalsIgnoreCase(mode.getString(1))) {
                return false;
            }
        }
        try (ResultSet level = st.executeQuery("PRAGMA synchronous")) {
            if (!level.next() || level.getInt(1) <= 1) {
                return false;
            }
        }
        st.execute("PRAGMA synchronous = NORMAL");
        return true;
    }

    /** The sync client's own SQLite connection, or null without one (for tests of its settings). */
    Connection syncConnection() {
        return client == null ? null : client.localConnection();
    }

    /**
     * Whether SQLite lets {@code raw} write the file. sqlite-jdbc knows only its own {@code open_mode} flag
     * ({@link Connection#isReadOnly}), not a URI's {@code mode=ro} or {@code immutable=1}, nor a file or directory
     * this process may not write, which SQLite opens read-only without a word; and SQLite grants such a connection
     * {@code BEGIN IMMEDIATE}. An update of no row asks for the write transaction and writes nothing; in the set-up
     * transaction, which already holds the write lock on a writable file, it takes nothing more either.
     */
    private static boolean writable(Connection raw) throws SQLException {
        // A statement of its own: sqlite-jdbc closes a statement that fails.
        try (Statement probe = raw.createStatement()) {
            probe.execute("UPDATE _sync_state SET v = v WHERE 0");
            return true;
        } catch (SQLException e) {
            int code = e.getErrorCode() & 0xff;
            if (code == SQLITE_READONLY) {
                return false;
            }
            if (code == SQLITE_BUSY) {
                // SQLite refuses a read-only connection before it asks for any lock: this one may write. (In
                // manual-commit mode the set-up transaction is deferred, so another writer may hold the lock.)
                return true;
            }
            throw e;
        }
    }

    private static final int SQLITE_BUSY = 5;
    private static final int SQLITE_READONLY = 8;

    private static SyncNode open(String key, SyncUrl config, Connection raw, boolean shared) throws SQLException {
        String configuredNode = config.node();
        HybridClock clock;
        String nodeId;
        boolean writable;
        try (Statement st = raw.createStatement()) {
            boolean auto = raw.getAutoCommit();
            if (auto) {
                st.execute("BEGIN IMMEDIATE");
            }
            try {
                Outbox.create(raw);
                nodeId = readOrCreateNodeId(raw, configuredNode);
                long last;
                try (ResultSet rs = st.executeQuery("SELECT max(coalesce((SELECT max(hlc) FROM _sync_outbox), 0),"
                        + " coalesce((SELECT v FROM _sync_state WHERE k = 'hlc'), 0))")) {
                    last = rs.next() ? rs.getLong(1) : 0;
                }
                clock = new HybridClock(InstantSource.system(), last);
                writable = !raw.isReadOnly() && writable(raw);
                if (auto) {
                    st.execute("COMMIT");
                } else {
                    raw.commit();
                }
            } catch (SQLException | RuntimeException e) {
                if (auto) {
                    st.execute("ROLLBACK");
                }
                throw e;
            }
        }
        Map<String, TableInfo> synced = CaptureInstaller.install(raw, config.tables(), clock::now);
        if (config.tables().isEmpty()) {
            warnUnkeyedTables(raw, synced);
        } else {
            List<String> internal = SchemaReader.virtualOrShadow(raw).stream()
                    .filter(t -> config.tables().contains(t.toLowerCase(java.util.Locale.ROOT))).toList();
            if (!internal.isEmpty()) {
                LOG.log(System.Logger.Level.WARNING, "sync.tables lists {0}, virtual tables or the tables a virtual"
                        + " table keeps its data in, which are not synced; sync the tables they index (an FTS"
                        + " index kept by triggers follows the rows the sync client writes)", internal);
            }
        }
        KeyStock keys = shared && !config.servers().isEmpty()
                ? KeyStock.load(raw, synced, config.idBlock()) : KeyStock.empty(config.idBlock());
        // Before the client's own connection opens: a bad trust store fails the open with nothing to clean up.
        javax.net.ssl.SSLContext tls = config.trustStore().isEmpty() ? null
                : io.syncsqlite.driver.transport.TrustStores.context(config.trustStore(), config.trustStorePassword());
        Connection clientDb = null;
        boolean relaxedSync = false;
        // A node first opened read-only cannot apply the feed: it captures nothing (no write can pass) and does not sync.
        if (shared && config.syncEnabled() && !config.servers().isEmpty() && writable) {
            Properties p = new Properties();
            p.putAll(config.sqliteProps());
            // sqlite-jdbc runs SELECT last_insert_rowid() after every INSERT for getGeneratedKeys(), in a
            // statement it prepares each time; this connection never asks, and it inserts every feed row.
            p.setProperty("jdbc.get_generated_keys", "false");
            clientDb = org.sqlite.JDBC.createConnection(config.sqliteUrl(), p);
            try (Statement st = clientDb.createStatement()) {
                st.execute("PRAGMA busy_timeout = 10000");
                relaxedSync = relaxSync(st);
                // The feed brings rows in PostgreSQL's commit order, already checked there, and brings the
                // effects of PostgreSQL's ON DELETE CASCADE as rows of their own. Enforcing foreign keys here
                // too (an application may set foreign_keys=true for its own connections) could refuse a
                // valid batch, or cascade away a child row this client has not uploaded yet.
                st.execute("PRAGMA foreign_keys = OFF");
            }
        }
        SyncLock lock = null;
        if (clientDb != null) {
            lock = new SyncLock(key);
            // A node of this file closing in this JVM lets go as its sync thread ends (SyncClient.stop waits
            // for that up to 5 s).
            if (!lock.acquireOnOpen(5_000)) {
                keys.syncedElsewhere();
                LOG.log(System.Logger.Level.INFO, "another process syncs {0}: this one captures its writes for it,"
                        + " and takes over when it ends", SyncUrl.mask(config.path()));
            }
        }
        SyncNode node = new SyncNode(key, config, nodeId, clock, synced, keys, clientDb, relaxedSync, tls, lock);
        node.noteSequences(raw, synced);
        node.schemaAnswers = readSchema(raw);
        if (node.client != null) {
            node.client.start();
        }
        LOG.log(System.Logger.Level.DEBUG, "opened sync node {0} for {1} ({2} synced tables)", nodeId,
                SyncUrl.mask(config.path()), synced.size());
        return node;
    }

    /**
     * Says which tables are not synced for lack of a primary key: without {@code sync.tables}, only keyed
     * tables sync, and a JPA {@code @ElementCollection} table gets a key only when its element column is
     * not nullable; an application would otherwise wonder why those rows never arrive elsewhere. A Hibernate
     * sequence table ({@code next_val} alone) is kept in this node's ids when it is named after a synced
     * table with an integer key ({@code item_SEQ}: {@link #keepSequenceInStock}); any other (one sequence
     * shared by several tables, {@code hibernate_sequence}) gets a warning of its own: its ids are the same
     * on every device, and giving it a key would not help.
     */
    private static void warnUnkeyedTables(Connection raw, Map<String, TableInfo> synced) throws SQLException {
        List<String> unkeyed = new ArrayList<>();
        List<String> sequences = new ArrayList<>();
        for (TableInfo t : SchemaReader.readTables(raw).values()) {
            if (t.columns().size() == 1 && t.columns().get(0).name().equalsIgnoreCase("next_val")) {
                String name = t.name().toLowerCase(java.util.Locale.ROOT);
                TableInfo base = name.endsWith("_seq") ? synced.get(name.substring(0, name.length() - 4)) : null;
                if (base == null || base.integerKey() == null) {
                    sequences.add(t.name());
                }
            } else if (!t.hasPrimaryKey()) {
                unkeyed.add(t.name());
            }
        }
        if (!unkeyed.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "tables without a primary key are not synced: {0}; give them a"
                    + " key (for a JPA @ElementCollection: @Column(nullable = false) on the element)", unkeyed);
        }
        if (!sequences.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "{0} look like Hibernate sequence tables serving no synced table of"
                    + " their name: the ids they give are the same on every device, and rows given the same id on"
                    + " two devices become one row when they sync; give each synced entity its own sequence"
                    + " (<table>_SEQ, Hibernate''s default), or use GenerationType.IDENTITY or UUID ids", sequences);
        }
    }

    private static String readOrCreateNodeId(Connection raw, String configured) throws SQLException {
        try (PreparedStatement ps = raw.prepareStatement("SELECT v FROM _sync_state WHERE k = 'node'");
             ResultSet rs = ps.executeQuery()) {
            if (rs.next()) {
                String stored = rs.getString(1);
                if (!configured.isEmpty() && !configured.equals(stored) && !hadNodeId(raw, configured)) {
                    throw new SQLException("sync.node=" + configured + " but this file already belongs to node "
                            + stored + "; a file's node id cannot change", SyncSqlState.INVALID_PARAMETER.code());
                }
                return stored;
            }
        }
        String id = configured.isEmpty() ? UUID.randomUUID().toString() : configured;
        if (id.length() > 64) {
            throw new SQLException("sync.node must have at most 64 characters", SyncSqlState.INVALID_PARAMETER.code());
        }
        try (PreparedStatement ps = raw.prepareStatement("INSERT INTO _sync_state (k, v) VALUES ('node', ?)")) {
            ps.setString(1, id);
            ps.executeUpdate();
        }
        return id;
    }

    /** Whether the file had node id {@code id} before it found it was a copy and took its own. */
    private static boolean hadNodeId(Connection raw, String id) throws SQLException {
        try (PreparedStatement ps = raw.prepareStatement("SELECT 1 FROM _sync_state WHERE k = ?")) {
            ps.setString(1, LocalStore.NODE_BEFORE + id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /**
     * The file SQLite opened, as it names it: a {@code file:} URI (percent-encoded, with parameters) names
     * the same file as its plain path, and must share its node and its {@link SyncLock}.
     */
    private static String databaseFile(Connection raw, String configured) throws SQLException {
        try (Statement st = raw.createStatement(); ResultSet rs = st.executeQuery("PRAGMA database_list")) {
            while (rs.next()) {
                if ("main".equals(rs.getString(2)) && rs.getString(3) != null && !rs.getString(3).isEmpty()) {
                    return rs.getString(3);
                }
            }
        }
        return configured;
    }

    private static String canonical(String path) throws SQLException {
        String p = path.startsWith("file:") ? path.substring(5) : path;
        int q = p.indexOf('?');
        if (q >= 0) {
            p = p.substring(0, q);
        }
        try {
            return new File(p).getCanonicalPath();
        } catch (IOException e) {
            throw new SQLException("cannot resolve database path " + path, SyncSqlState.INVALID_PARAMETER.code(), e);
        }
    }

    /** Called when a driver connection closes. */
    public void release() {
        synchronized (this) {
            if (--references > 0 || closed) {
                return;
            }
            if (config.lingerMs() == 0) {
                closeNow();
            } else {
                pendingClose = LINGER.schedule(this::closeIfUnused, config.lingerMs(), TimeUnit.MILLISECONDS);
            }
        }
    }

    private void closeIfUnused() {
        synchronized (this) {
            if (references == 0 && !closed) {
                closeNow();
            }
        }
    }

    private void closeNow() {
        closed = true;
        NODES.remove(key, this);
        if (client != null) {
            client.stop();
        }
    }

    /**
     * Re-reads the schema and refreshes triggers after DDL. With {@code inTransaction} the work joins the
     * caller's open transaction and nothing is published yet: the caller calls {@link #reloadTables} once
     * that transaction has ended, because a rolled-back DROP or CREATE must not change what the sync
     * client applies.
     */
    public void refreshCapture(Connection raw, boolean inTransaction) throws SQLException {
        refreshCapture(raw, inTransaction, CaptureInstaller.Rebuilding.NONE);
    }

    /** As {@link #refreshCapture(Connection, boolean)}, while synced tables are rebuilt ({@link CaptureInstaller}). */
    public void refreshCapture(Connection raw, boolean inTransaction, CaptureInstaller.Rebuilding rebuilding)
            throws SQLException {
        forgetSchemaAnswers(); // the schema changed, maybe in the caller's open transaction
        Map<String, TableInfo> installed = CaptureInstaller.install(raw, config.tables(), clock::now, inTransaction,
                rebuilding);
        if (!inTransaction) {
            noteSequences(raw, installed);
            publish(installed, Outbox.snapshotRequested(raw), readSchema(raw));
        }
    }

    /** Publishes the synced tables as the file has them now, after a transaction that ran DDL ended. */
    public void reloadTables(Connection raw) throws SQLException {
        Map<String, TableInfo> now = CaptureInstaller.syncedTables(raw, config.tables());
        noteSequences(raw, now);
        publish(now, Outbox.snapshotRequested(raw), readSchema(raw));
    }

    /**
     * Finds the synced tables that have a Hibernate sequence table ({@code <table>_SEQ} holding
     * {@code next_val} alone), so that key ranges are asked for them at connect, before the first bump: an
     * id generated while the sync client is busy (applying a snapshot) would otherwise wait for a request
     * that only the sync thread sends.
     */
    private void noteSequences(Connection raw, Map<String, TableInfo> now) throws SQLException {
        boolean added = false;
        try (Statement st = raw.createStatement();
             ResultSet rs = st.executeQuery("SELECT m.name FROM sqlite_schema AS m WHERE m.type = 'table'"
                     + " AND lower(m.name) LIKE '%\\_seq' ESCAPE '\\' AND (SELECT count(*) = 1 AND lower(max(p.name))"
                     + " = 'next_val' FROM pragma_table_info(m.name) AS p)")) {
            while (rs.next()) {
                String name = rs.getString(1).toLowerCase(java.util.Locale.ROOT);
                TableInfo base = now.get(name.substring(0, name.length() - 4));
                if (base != null && base.integerKey() != null) {
                    added |= sequenced.add(base.name().toLowerCase(java.util.Locale.ROOT));
                }
            }
        }
        if (added && client != null) {
            client.keysLow();
        }
    }

    /**
     * @param snapshotRequested the file holds a snapshot request: a table was recorded as synced anew (also
     *                          one dropped and created again in one transaction, whose name set is unchanged)
     * @param answers           the schema answers the caller read on the connection that read {@code now}
     */
    private synchronized void publish(Map<String, TableInfo> now, boolean snapshotRequested, SchemaAnswers answers) {
        synced = now;
        schemaAnswers = answers; // read by the caller, outside this monitor
        keyedInserts.clear();
        unnamedUpserts.clear();
        if (client != null && snapshotRequested) {
            // Rows of the new table may already have streamed past and been skipped: reconnect to take it.
            client.requestResync();
        }
    }

    /**
     * What the driver asks of the file's schema before a statement, read once per schema change this process
     * makes: whether a trigger or table other than the driver's own mentions ROLLBACK ({@link
     * #schemaSaysRollback}), whether the file has eviction triggers ({@link #hasEvictionTriggers}), and which
     * writes may evict rows by REPLACE without saying so ({@link #replacesByDefault}). Read when the node opens
     * and whenever it publishes the synced tables, on the connection that just read them: never lazily inside
     * an application's transaction, where a first read before the first write would make that write fail with
     * SQLITE_BUSY_SNAPSHOT once another process has written (SharedFileReviewTest).
     */
    private record SchemaAnswers(boolean saysRollback, boolean evictionTriggers, Replacing replacing) {
    }

    /**
     * The tables (lower-case) with a constraint that says ON CONFLICT REPLACE, whether the file has application
     * triggers, and whether one of them writes with REPLACE.
     */
    private record Replacing(java.util.Set<String> tables, boolean appTriggers, boolean triggersReplace) {
    }

    /** Null: not known (DDL of this process is under way, or was undone by a rollback to a savepoint). */
    private volatile SchemaAnswers schemaAnswers;

    private static SchemaAnswers readSchema(Connection raw) throws SQLException {
        boolean rollback = schemaHas(raw, "type IN ('table', 'trigger') AND name NOT LIKE '\\_sync\\_%' ESCAPE '\\'"
                + " AND sql LIKE '%ROLLBACK%'");
        boolean eviction = schemaHas(raw, "type = 'trigger' AND name LIKE '" + TriggerSql.PREFIX.replace("_", "\\_")
                + "ev%' ESCAPE '\\'");
        java.util.Set<String> tables = new java.util.HashSet<>();
        boolean appTriggers = false;
        boolean triggersReplace = false;
        try (Statement st = raw.createStatement();
             ResultSet rs = st.executeQuery("SELECT type, name, sql FROM sqlite_schema WHERE type IN ('table', 'trigger')"
                     + " AND name NOT LIKE '\\_sync\\_%' ESCAPE '\\' AND sql IS NOT NULL")) {
            while (rs.next()) {
                String sql = rs.getString(3);
                boolean mentions = sql.toUpperCase(java.util.Locale.ROOT).contains("REPLACE");
                if (rs.getString(1).equals("trigger")) {
                    appTriggers = true;
                    triggersReplace |= mentions && io.syncsqlite.driver.sql.SqlClassifier.writesByReplace(sql);
                } else if (mentions && io.syncsqlite.driver.sql.SqlClassifier.declaresOnConflictReplace(sql)) {
                    tables.add(rs.getString(2).toLowerCase(java.util.Locale.ROOT));
                }
            }
        }
        return new SchemaAnswers(rollback, eviction, new Replacing(tables, appTriggers, triggersReplace));
    }

    /**
     * The answers for a statement on {@code raw}: the kept ones; or, when the connection holds DDL it has not
     * committed ({@code ownDdl}: its view of the schema is its own), read afresh on it and kept to itself; or,
     * when none are kept and {@code mayRead} is false (inside an application transaction), null.
     */
    private SchemaAnswers answers(Connection raw, boolean ownDdl, boolean mayRead) throws SQLException {
        if (ownDdl) {
            return readSchema(raw);
        }
        SchemaAnswers known = schemaAnswers;
        if (known == null && mayRead) {
            known = readSchema(raw);
            schemaAnswers = known;
        }
        return known;
    }

    /**
     * Whether a trigger or table of the file, other than the driver's own, mentions {@code ROLLBACK}
     * ({@code RAISE(ROLLBACK, ...)}, {@code ON CONFLICT ROLLBACK}): a statement may then end its transaction
     * when it fails. Asked in auto-commit mode only, where reading is safe. DDL another process runs later is
     * not seen.
     *
     * @param ownDdl the caller's connection holds DDL it has not committed: its view of the schema is its own,
     *               so the answer is read afresh and not kept for the other connections (nor is theirs used)
     */
    public boolean schemaSaysRollback(Connection raw, boolean ownDdl) throws SQLException {
        return answers(raw, ownDdl, true).saysRollback();
    }

    /**
     * Whether some table of the file has the capture triggers that log REPLACE evictions (a synced table with
     * UNIQUE keys besides its primary key): only then does a statement need the eviction flag
     * ({@code SyncConnection.evicting}), which costs its transaction a page more. Not known inside an
     * application transaction while another connection's DDL is under way: then true, the flag being always
     * safe ({@code ownDdl} as for {@link #schemaSaysRollback}; {@code mayRead} false inside an application
     * transaction).
     */
    public boolean hasEvictionTriggers(Connection raw, boolean ownDdl, boolean mayRead) throws SQLException {
        SchemaAnswers a = answers(raw, ownDdl, mayRead);
        return a == null || a.evictionTriggers();
    }

    /**
     * Whether a write of {@code kind} to {@code table} (null: not known) may evict rows by REPLACE although its
     * SQL does not say so. A constraint declared {@code UNIQUE ON CONFLICT REPLACE} (or {@code PRIMARY KEY ...})
     * makes REPLACE the resolution of every INSERT and UPDATE without an OR clause of its own, and SQLite then
     * evicts the rows holding the new row's values without firing their delete triggers; an application
     * trigger's {@code INSERT OR REPLACE} evicts whatever statement fires it. So: true for any write when an
     * application trigger writes with REPLACE, or when the file has such a table and application triggers
     * (their inner writes may reach it); else for an INSERT or UPDATE of such a table, or of a table not
     * known. A statement whose OR clause says otherwise gets the flag too; the deletes logged for rows that
     * stay are taken out after it ({@code SyncConnection.evicting}). Read by tokens from the tables' and
     * triggers' SQL (a {@code NOT NULL ON CONFLICT REPLACE} counts too: the flag costs a statement some
     * microseconds, never a wrong capture). True when not known ({@link #hasEvictionTriggers}).
     */
    public boolean replacesByDefault(Connection raw, String table, io.syncsqlite.driver.sql.StatementKind kind,
                                     boolean ownDdl, boolean mayRead) throws SQLException {
        SchemaAnswers a = answers(raw, ownDdl, mayRead);
        if (a == null) {
            return true;
        }
        Replacing known = a.replacing();
        if (known.triggersReplace() || !known.tables().isEmpty() && known.appTriggers()) {
            return true;
        }
        if (known.tables().isEmpty() || kind == io.syncsqlite.driver.sql.StatementKind.DELETE) {
            return false;
        }
        return table == null || known.tables().contains(table.toLowerCase(java.util.Locale.ROOT));
    }

    /**
     * Forgets what was read from the schema: DDL of this process is under way, or a rollback to a savepoint
     * may have undone some. The next publish reads it again.
     */
    public void forgetSchemaAnswers() {
        schemaAnswers = null;
    }

    /** Whether {@code sqlite_schema} has an entry matching {@code where}. */
    private static boolean schemaHas(Connection raw, String where) throws SQLException {
        try (Statement st = raw.createStatement();
             ResultSet rs = st.executeQuery("SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE " + where + ")")) {
            return rs.next() && rs.getBoolean(1);
        }
    }

    /**
     * Whether new rows of synced tables with an integer rowid key get their keys from the relay's ranges.
     * True for a file with a relay configured; without one (capture only, in-memory databases) SQLite
     * picks keys itself, since there is nobody to collide with.
     */
    public boolean allocatesKeys() {
        return config.isFile() && !config.servers().isEmpty();
    }

    /**
     * The rewritten form of {@code sql} when it inserts into a synced table with an integer rowid key and
     * leaves the key out, else {@code null}.
     *
     * @throws SQLException 0A000 for an INSERT that leaves the key out in a form that cannot be rewritten
     */
    public KeyRewriter.KeyedInsert keyedInsert(String sql, SqlInfo info) throws SQLException {
        if (info.kind() != StatementKind.INSERT || info.table() == null || !allocatesKeys()) {
            return null;
        }
        Optional<KeyRewriter.KeyedInsert> cached = keyedInserts.get(sql);
        if (cached != null) {
            return cached.orElse(null);
        }
        TableInfo t = synced.get(info.table().toLowerCase(java.util.Locale.ROOT));
        TableInfo.Column key = t == null ? null : t.rowidKey();
        KeyRewriter.KeyedInsert keyed = key == null ? null
                : KeyRewriter.rewrite(sql, key.name(), t.columns().stream().map(TableInfo.Column::name).toList());
        if (keyedInserts.size() >= 4096) {
            keyedInserts.clear(); // statements with literal values: each text is seen once
        }
        keyedInserts.put(sql, Optional.ofNullable(keyed));
        return keyed;
    }

    /**
     * {@code info} with its counters read against the synced table's columns, for an upsert without a column list
     * ({@link SqlInfo#unnamedColumns}, {@link io.syncsqlite.driver.sql.SqlClassifier#withColumns}); else {@code info}.
     * Cached by SQL text until the schema changes, as {@link #keyedInsert}.
     */
    public SqlInfo withColumns(String sql, SqlInfo info) {
        if (!info.unnamedColumns() || info.table() == null) {
            return info;
        }
        SqlInfo cached = unnamedUpserts.get(sql);
        if (cached != null) {
            return cached;
        }
        TableInfo t = synced.get(info.table().toLowerCase(java.util.Locale.ROOT));
        if (t == null) {
            return info; // not synced: its counters matter to nobody
        }
        SqlInfo resolved = info.withCounters(io.syncsqlite.driver.sql.SqlClassifier.withColumns(sql, info,
                t.columns().stream().map(TableInfo.Column::name).toList()));
        if (unnamedUpserts.size() >= 4096) {
            unnamedUpserts.clear();
        }
        unnamedUpserts.put(sql, resolved);
        return resolved;
    }

    /**
     * Takes a fresh key for a new row of {@code table}. With no key in stock, waits briefly for the first
     * range while the client is connecting or connected; fails with SY004 otherwise.
     */
    public long nextKey(String table) throws SQLException {
        awaitTakeoverAtStart();
        boolean mayArrive = client != null && client.mayReceiveKeys();
        return keys.take(table, mayArrive ? KeyStock.FIRST_RANGE_WAIT_MS : 0);
    }

    /**
     * Right after this process opened the file while another held its sync (an application restarted while
     * the old process lingers, {@code sync.lingerMs}), an insert that needs a key waits for the takeover
     * rather than fail: the old process lets go within its linger. Later, another process syncing the file
     * is there to stay, and such inserts fail at once (SY004).
     */
    private void awaitTakeoverAtStart() {
        if (client == null || !client.syncedElsewhere()
                || System.nanoTime() - openedNanos > TimeUnit.MILLISECONDS.toNanos(STARTUP_TAKEOVER_MS)) {
            return;
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(KeyStock.FIRST_RANGE_WAIT_MS);
        try {
            while (client.syncedElsewhere() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** How long after opening a process waits for a lingering one to let the file go (see {@link #nextKey}). */
    private static final long STARTUP_TAKEOVER_MS = 10_000;

    private final long openedNanos = System.nanoTime();

    /** Whether another process syncs this file ({@link SyncLock}); this one captures only. */
    public boolean syncedElsewhere() {
        return client != null && client.syncedElsewhere();
    }

    /**
     * For a process that leaves the file's sync to another ({@link #syncedElsewhere}): moves this node's
     * clock past the newest the file holds ({@link Outbox#NEWEST_CLOCK}), read on {@code c} inside the
     * transaction about to be stamped, so a write made here orders after every change the other process
     * applied or wrote before it (the sync thread also follows it, but only every turn).
     */
    public void observeFileClock(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery(Outbox.NEWEST_CLOCK)) {
            if (rs.next()) {
                clock.observe(rs.getLong(1));
            }
        }
    }

    /**
     * For a process that leaves the file's sync to another: notes the transaction just stamped on {@code c}
     * (the outbox's newest row, inside the transaction) as this process's, so that its rejection, which the
     * syncing process records in the file, is told to this process's listeners.
     */
    public void stampedHere(Connection c) throws SQLException {
        if (client == null) {
            return;
        }
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT max(seq) FROM _sync_outbox")) {
            if (rs.next()) {
                client.stampedHere(rs.getLong(1));
            }
        }
    }

    /** Keys in stock for new rows of {@code table}. */
    public long keysAvailable(String table) {
        return keys.available(table);
    }

    private List<String> keyedTables() {
        return synced.values().stream().filter(t -> t.rowidKey() != null
                || t.integerKey() != null && sequenced.contains(t.name().toLowerCase(java.util.Locale.ROOT)))
                .map(TableInfo::name).toList();
    }

    /**
     * The synced table whose ids Hibernate's sequence table {@code table} hands out ({@code item_SEQ} for
     * {@code item}, the JPA default {@code @GeneratedValue} on SQLite), or {@code null}.
     */
    public String sequenceBase(String table) {
        if (table == null || table.length() <= 4 || !table.toLowerCase(java.util.Locale.ROOT).endsWith("_seq")) {
            return null;
        }
        TableInfo t = synced.get(table.substring(0, table.length() - 4).toLowerCase(java.util.Locale.ROOT));
        return t != null && t.integerKey() != null ? t.name() : null;
    }

    /**
     * Keeps the sequence table of {@code base} inside ids the relay reserved for this node. Every device's
     * sequence table starts at the same value, so two devices gave the same ids to different rows, which
     * became one row when they synced. Called before the application's {@code UPDATE <seq> SET next_val = ?
     * WHERE next_val = ?} (Hibernate's table-backed sequence), which read {@code was} and takes
     * {@code increment} ids next to it: {@code was - increment + 1 .. was} with Hibernate's pooled optimizer,
     * {@code was .. was + increment - 1} with pooled-lo, {@code was} alone without one. When those ids
     * (both sides) are not in the run reserved for the sequence, a new run is taken from the table's key
     * stock and {@code next_val} moved to its first id plus the increment less one. The application's update
     * then changes no row, and Hibernate reads the sequence again, as it does when another session moved it.
     *
     * @param db the application's connection (its transaction, when one is open, holds the move)
     * @throws SQLException SY004 when no run of ids is in stock
     */
    public void keepSequenceInStock(Connection db, String sequence, String base, long was, long next)
            throws SQLException {
        long increment = next - was;
        if (increment <= 0) {
            return;
        }
        synchronized (sequenceRuns) {
            keepInRun(db, sequence, base.toLowerCase(java.util.Locale.ROOT), base, was, increment);
        }
    }

    private void keepInRun(Connection db, String sequence, String key, String base, long was, long increment)
            throws SQLException {
        long[] run = sequenceRuns.get(key);
        if (run == null) {
            try (PreparedStatement ps = db.prepareStatement("SELECT v FROM _sync_state WHERE k = ?")) {
                ps.setString(1, SEQUENCE_KEY + key);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        String[] bounds = rs.getString(1).split(" ");
                        run = new long[] {Long.parseLong(bounds[0]), Long.parseLong(bounds[1])};
                    }
                }
            }
        }
        sequenceIncrements.put(key, increment);
        if (run != null && was - increment + 1 >= run[0] && was + increment - 1 <= run[1]) {
            sequenceNext.put(key, was + increment);
            return;
        }
        long[] fresh = keys.takeRun(base, Math.max(2 * increment, Math.min(config.idBlock(), 10 * increment)),
                2 * increment - 1, wantRuns(base, key, increment));
        try (PreparedStatement ps = db.prepareStatement(
                "INSERT INTO _sync_state (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v")) {
            ps.setString(1, SEQUENCE_KEY + key);
            ps.setString(2, fresh[0] + " " + fresh[1]);
            ps.executeUpdate();
        }
        try (PreparedStatement ps = db.prepareStatement("UPDATE " + io.syncsqlite.driver.capture.TriggerSql.quote(sequence)
                + " SET next_val = ?")) {
            ps.setLong(1, fresh[0] + increment - 1);
            ps.executeUpdate();
        }
        sequenceRuns.put(key, fresh);
        sequenceNext.put(key, fresh[0] + increment - 1);
    }

    /**
     * Before the application reads the sequence table of {@code base}: when its next allocation will need a
     * new run and the stock holds none long enough, waits (up to the first-range wait, while key ranges may
     * arrive) for one. Waiting here, before Hibernate's transaction has read anything, and not at the bump:
     * there the transaction holds a read snapshot, and the sync client storing the awaited range meanwhile
     * made its write fail (SQLITE_BUSY_SNAPSHOT).
     */
    public void beforeSequenceRead(String base) {
        String key = base.toLowerCase(java.util.Locale.ROOT);
        long increment;
        synchronized (sequenceRuns) {
            increment = sequenceIncrements.getOrDefault(key, DEFAULT_ALLOCATION);
            long[] run = sequenceRuns.get(key);
            Long next = sequenceNext.get(key);
            if (run != null && next != null && next - increment + 1 >= run[0] && next + increment - 1 <= run[1]) {
                return;
            }
        }
        keys.awaitRun(base, 2 * increment - 1, wantRuns(base, key, increment));
    }

    /**
     * Marks {@code base} as taking key ranges for its sequence, in runs for {@code increment} ids, asking the
     * relay for some the first time; returns how long to wait for them (only while they may arrive).
     */
    private long wantRuns(String base, String key, long increment) {
        if (sequenced.add(key) && client != null) {
            client.keysLow();
        }
        keys.needRuns(base, 2 * increment);
        return client != null && client.mayReceiveKeys() ? KeyStock.FIRST_RANGE_WAIT_MS : 0;
    }

    /**
     * How long the sync client holds a commit back while application transactions are open with new ones waiting for
     * it meanwhile, so that a busy application's short transactions drain and let it in.
     */
    static final long SYNC_WAIT_MS = 1000;
    /**
     * How long the connections the sync client waits for may do nothing (run no statement, read no rows), counted from
     * the start of its wait, before it commits under what they hold open: a connection left open in manual-commit mode
     * delays sync by about this much per commit instead of stopping it. Two seconds, not one: a transaction that
     * sleeps 300 ms between its read and its write, after a statement to PostgreSQL, stayed idle over a second on a
     * loaded machine (ReadThenWriteTest).
     */
    static final long SYNC_IDLE_MS = 2000;
    /**
     * How long, at most, the sync client holds a commit back while the application keeps running statements in the
     * transactions and queries it waits for. A fixed 1 s bound broke read-then-write work that simply took longer on
     * a loaded machine: a loop updating each row of an open query, 30 lookups and updates in 1.25 s
     * (TodayE2eReviewTest), met a sync commit under its snapshot and failed with SQLITE_BUSY_SNAPSHOT.
     */
    static final long SYNC_WAIT_MAX_MS = 10_000;
    /** How long an application transaction waits for the sync client's write transaction to end (they are short). */
    static final long APP_WAIT_MS = 2000;

    /**
     * An application connection entered ({@code open}) or left a transaction. Entering waits while the sync
     * client writes or is waiting for its turn: otherwise a busy application would keep it out for
     * {@link #SYNC_WAIT_MS} at every commit, and a transaction whose first read preceded a sync commit would
     * fail at its first write with SQLITE_BUSY_SNAPSHOT.
     */
    public void appTransaction(Object connection, boolean open) {
        appTransaction(connection, open, true);
    }

    /** As {@link #appTransaction(Object, boolean)}; without {@code mayWait} entering does not wait (see {@link #appRead}). */
    public void appTransaction(Object connection, boolean open, boolean mayWait) {
        synchronized (gate) {
            if (open) {
                if (mayWait) {
                    awaitGate(APP_WAIT_MS, this::appMayEnter);
                }
                appTransactions.add(connection);
            } else if (appTransactions.remove(connection) && appTransactions.isEmpty()) {
                gate.notifyAll();
            }
        }
    }

    /**
     * Connections of this node with auto-commit queries open ({@code SyncConnection.read}): the sync
     * client waits for them as for transactions. Counted without {@link #gate}'s monitor, which cost a query about a
     * tenth of its time (ParseBenchmark): a query raises the count, then looks at the sync client's flags; the sync
     * client raises its flag, then looks at the count (both volatile, so one of the two sees the other). A query that
     * finds the sync client writing or waiting takes the slow way, as a transaction does.
     */
    private final java.util.concurrent.atomic.AtomicInteger appReads = new java.util.concurrent.atomic.AtomicInteger();

    /** Whether this node runs a sync client, the other writer the gate keeps apart from application reads. */
    public boolean syncsHere() {
        return client != null;
    }

    /**
     * A connection's first open auto-commit query began ({@code open}), or its last one ended; see {@link #appReads}.
     * One count per connection: a connection that waited here for a second query would wait for the sync client,
     * which waits for the connection's first. Without {@code mayWait} (a thread that holds a query open on another
     * connection) it does not wait either.
     */
    public void appRead(boolean open, boolean mayWait) {
        if (open) {
            appReads.incrementAndGet();
            // syncWaiting first: the sync client sets syncWriting before it clears syncWaiting, so a query that finds
            // syncWaiting clear and then syncWriting clear cannot have missed it (the other order could, GateReviewTest).
            if (mayWait && (syncWaiting && !syncYields || syncWriting)) {
                appReads.decrementAndGet();
                synchronized (gate) {
                    gate.notifyAll(); // the sync client may be waiting on the count this raised for a moment
                    awaitGate(APP_WAIT_MS, this::appMayEnter);
                    appReads.incrementAndGet();
                }
            }
        } else if (appReads.decrementAndGet() == 0 && syncWaiting) {
            synchronized (gate) {
                gate.notifyAll();
            }
        }
    }

    /**
     * A driver connection as the gate sees it (SyncConnection). Its methods are called on the sync client's thread
     * while it waits, so they read only what is safe to read from any thread.
     */
    public interface GateHolder {
        /** Whether it has an auto-commit query open (it counts once in {@link #appReads} then). */
        boolean readsOpen();

        /**
         * A count that moves at the start and at the end of each statement it runs (odd while one runs), and as it reads
         * rows of its result sets.
         */
        int activity();

        /** How many times it began to hold the gate (a transaction, or its first open query): a new hold moves it. */
        int holds();
    }

    /** A driver connection of this node opened: the sync client may have to tell whether it still works. */
    public void opened(GateHolder connection) {
        connections.add(connection);
    }

    /** A driver connection of this node closed (after it left its transaction and its reads). */
    public void closed(GateHolder connection) {
        connections.remove(connection);
    }

    /** Whether {@code c} holds the gate (held under {@link #gate}). */
    private boolean holds(GateHolder c) {
        return appTransactions.contains(c) || c.readsOpen();
    }

    /** Whether an application transaction or query may start now (held under {@link #gate}). */
    private boolean appMayEnter() {
        return !syncWriting && (!syncWaiting || syncYields);
    }

    /** Whether no application transaction or auto-commit query is open. */
    private boolean appClear() {
        return appTransactions.isEmpty() && appReads.get() == 0;
    }

    /** The sync client's side of the gate around its write transactions (see {@link LocalStore.WriteGate}). */
    private final LocalStore.WriteGate syncGate = new LocalStore.WriteGate() {
        @Override
        public void enter() {
            synchronized (gate) {
                syncWaiting = true;
                long start = System.nanoTime();
                Map<GateHolder, Held> holding = appClear() ? Map.of() : holdingNow();
                awaitGate(SYNC_WAIT_MS, SyncNode.this::appClear);
                if (!appClear()) {
                    awaitBusyApplication(start, holding);
                }
                // Writing before no longer waiting: a query starting in between must see one of the two.
                syncWriting = true;
                syncWaiting = false;
            }
        }

        @Override
        public void exit() {
            synchronized (gate) {
                syncWriting = false;
                gate.notifyAll();
            }
        }
    };

    /**
     * The sync client's wait (under {@link #gate}) past {@link #SYNC_WAIT_MS}, from {@code start}. New application
     * work is let in meanwhile: waiting for the sync client, it would only add to what the sync client waits for, and
     * stall every other request of a pooled application behind one long transaction. The wait ends when nothing is
     * open any more; when the connections that held the gate through the first second have let go of it, or have done
     * nothing for {@link #SYNC_IDLE_MS} (a connection left open), judged by those connections only (traffic on
     * others would keep a connection left open holding the sync client back to the cap at every write); or at
     * {@link #SYNC_WAIT_MAX_MS}. Then new work is held back again and what was let in meanwhile gets up to
     * {@link #SYNC_WAIT_MS} to finish, as in the first second: committing under it at once broke the application
     * transactions of other requests that happened to be running.
     */
    private void awaitBusyApplication(long start, Map<GateHolder, Held> holdingAtStart) {
        long cap = start + TimeUnit.MILLISECONDS.toNanos(SYNC_WAIT_MAX_MS);
        Watch watch = new Watch(start, holdingAtStart);
        syncYields = true;
        gate.notifyAll();
        try {
            awaitGate(() -> {
                long next = System.nanoTime() + Watch.POLL_NANOS;
                return next - cap < 0 ? next : cap;
            }, () -> clearOnceNoLongerYielding() || watch.stopped());
        } finally {
            syncYields = false;
        }
        Set<GateHolder> stale = watch.stillHolding();
        long staleReads = stale.stream().filter(GateHolder::readsOpen).count();
        // Polled: what ends here (a transaction, the last query of a connection) notifies only when nothing is left.
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SYNC_WAIT_MS);
        awaitGate(() -> {
            long next = System.nanoTime() + Watch.POLL_NANOS;
            return next - end < 0 ? next : end;
        }, () -> stale.containsAll(appTransactions) && appReads.get() <= staleReads);
    }

    /** A connection holding the gate when the sync client began to wait: its count of holds and its activity. */
    private record Held(int holds, int activity) {
    }

    /** The connections holding the gate now, each with its count of holds and its activity (under {@link #gate}). */
    private Map<GateHolder, Held> holdingNow() {
        Map<GateHolder, Held> now = new java.util.HashMap<>();
        for (GateHolder c : connections) {
            if (holds(c)) {
                now.put(c, new Held(c.holds(), c.activity()));
            }
        }
        return now;
    }

    /**
     * The connections that held the gate through the sync client's whole first second (the same hold at its start and
     * at its end: a pooled connection running one short transaction after another is new work, not a connection
     * left open), and when one of them last worked. Used on the sync client's thread, under {@link #gate}.
     */
    private final class Watch {
        /** How often the sync client looks at the watched connections' activity while it waits for them. */
        static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
        private final Map<GateHolder, Integer> hold = new java.util.HashMap<>();
        private final Map<GateHolder, Integer> activity = new java.util.HashMap<>();
        /** When one of them last worked: the start of the wait if none has since (a connection left open costs 2 s). */
        private long moved;

        Watch(long start, Map<GateHolder, Held> holdingAtStart) {
            moved = start;
            holdingAtStart.forEach((c, h) -> {
                if (holds(c) && c.holds() == h.holds()) {
                    int a = c.activity();
                    hold.put(c, h.holds());
                    activity.put(c, a);
                    if (a != h.activity() || (a & 1) != 0) {
                        moved = System.nanoTime();
                    }
                }
            });
        }

        /** Whether {@code c} still holds the gate in the hold it had when the sync client began to wait. */
        private boolean stillHolds(GateHolder c) {
            return holds(c) && c.holds() == hold.get(c);
        }

        /** Whether none of the watched connections holds the gate any more, or none has worked for {@link #SYNC_IDLE_MS}. */
        boolean stopped() {
            long now = System.nanoTime();
            boolean holding = false;
            for (Map.Entry<GateHolder, Integer> e : activity.entrySet()) {
                if (stillHolds(e.getKey())) {
                    holding = true;
                    int a = e.getKey().activity();
                    if (a != e.getValue() || (a & 1) != 0) {
                        e.setValue(a);
                        moved = now;
                    }
                }
            }
            return !holding || now - moved >= TimeUnit.MILLISECONDS.toNanos(SYNC_IDLE_MS);
        }

        Set<GateHolder> stillHolding() {
            Set<GateHolder> still = new java.util.HashSet<>();
            for (GateHolder c : activity.keySet()) {
                if (stillHolds(c)) {
                    still.add(c);
                }
            }
            return still;
        }
    }

    /**
     * Whether nothing is open, looked at again after {@link #syncYields} is cleared: a query that raised the count
     * after a first look and then found the flag still set went ahead, and the second look sees it (a query that
     * finds the flag clear waits for its turn). Yields again when something is open.
     */
    private boolean clearOnceNoLongerYielding() {
        if (!appClear()) {
            return false;
        }
        syncYields = false;
        if (appClear()) {
            return true;
        }
        syncYields = true;
        gate.notifyAll();
        return false;
    }

    /** Waits on {@link #gate} (held) until {@code done}, at most {@code maxMillis}. */
    private void awaitGate(long maxMillis, java.util.function.BooleanSupplier done) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(maxMillis);
        awaitGate(() -> deadline, done);
    }

    /** Waits on {@link #gate} (held) until {@code done}, at most until {@code deadline} (which may move). */
    private void awaitGate(java.util.function.LongSupplier deadline, java.util.function.BooleanSupplier done) {
        long left;
        boolean interrupted = false;
        try {
            while (!done.getAsBoolean() && (left = deadline.getAsLong() - System.nanoTime()) > 0) {
                try {
                    TimeUnit.NANOSECONDS.timedWait(gate, left);
                } catch (InterruptedException e) {
                    // The wait is bounded: an interrupted thread keeps its turn (its flag is set again after). Ending the
                    // wait let its transaction meet the sync client's commit, SQLITE_BUSY_SNAPSHOT (GateReviewTest).
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Signals that a stamped transaction was committed. */
    public void committed() {
        if (client != null) {
            client.nudge();
        }
    }

    /**
     * Whether {@code table.column} is never a counter: declared last-writer-wins ({@code sync.lww}), or a key column
     * ({@code SET id = id + 10} renumbers rows; sent as an increment, the relay refused it with 42703 and the device's
     * change was reverted: TodayThirdReviewTest).
     */
    public boolean forcedLww(String table, String column) {
        if (!config.lww().isEmpty() && config.lww().contains((table + "." + column).toLowerCase(java.util.Locale.ROOT))) {
            return true;
        }
        TableInfo t = synced.get(table.toLowerCase(java.util.Locale.ROOT));
        return t != null && t.pk().stream().anyMatch(k -> k.equalsIgnoreCase(column));
    }

    /** The id this file syncs as: the one it was opened with, or the one its sync client took since. */
    public String nodeId() {
        String current = client == null ? null : client.nodeId();
        return current != null ? current : nodeId;
    }

    public HybridClock clock() {
        return clock;
    }

    public Map<String, TableInfo> syncedTables() {
        return synced;
    }

    public SyncStatus status() {
        return client == null ? new SyncStatus(false, null, -1, 0, null, "sync is not running", null) : client.status();
    }

    /**
     * Waits until every local transaction committed so far is acknowledged by the relay and its result has
     * come back through the feed.
     *
     * @return whether that happened within {@code timeout}
     */
    public boolean awaitSynced(Duration timeout) throws InterruptedException {
        if (client == null) {
            return false;
        }
        long generation = client.nudge();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            SyncStatus s = client.status();
            // Synced by another process (SyncLock): settled once that process, connected, has settled the
            // file's outbox.
            if (client.refreshedGeneration() >= generation
                    && (s.connected() || client.syncedElsewhere() && client.holderOnline()) && s.unsettled() == 0) {
                return true;
            }
            Thread.sleep(10);
        }
        return false;
    }

    /** Registers a listener told the table names changed by each applied feed batch (on the sync thread). */
    public void addRemoteChangeListener(Consumer<Set<String>> listener) {
        listeners.add(listener);
    }

    public void removeRemoteChangeListener(Consumer<Set<String>> listener) {
        listeners.remove(listener);
    }

    /**
     * Registers a listener told of every local transaction the server refused, after it was reverted
     * locally (on the sync thread; keep it short).
     */
    public void addRejectionListener(Consumer<Rejection> listener) {
        rejectionListeners.add(listener);
    }

    public void removeRejectionListener(Consumer<Rejection> listener) {
        rejectionListeners.remove(listener);
    }

    /**
     * Supplies the token presented to the relay at every (re)connection, in place of {@code sync.token}:
     * for tokens that expire, so a session the relay ended at expiry resumes with a fresh one. Called on
     * the sync thread; it may block briefly (a refresh).
     */
    public void setTokenSupplier(java.util.function.Supplier<String> supplier) {
        this.tokenSupplier = supplier;
    }

    private String token() {
        java.util.function.Supplier<String> s = tokenSupplier;
        return s != null ? s.get() : config.token();
    }

    /**
     * Registers a listener told how far a snapshot has come (rows received of total), after each applied
     * batch, on the sync thread; keep it short. A new client gets a snapshot before the live feed.
     */
    public void addSnapshotProgressListener(Consumer<SnapshotProgress> listener) {
        snapshotListeners.add(listener);
    }

    public void removeSnapshotProgressListener(Consumer<SnapshotProgress> listener) {
        snapshotListeners.remove(listener);
    }

    private void fireSnapshotProgress(SnapshotProgress progress) {
        for (Consumer<SnapshotProgress> l : snapshotListeners) {
            try {
                l.accept(progress);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "snapshot progress listener failed", e);
            }
        }
    }

    private void fireRejection(Rejection rejection) {
        if (rejectionListeners.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "local transaction {0} was refused by the server ({1}) and reverted;"
                    + " register a rejection listener to handle it", rejection.tx(), rejection.sqlState());
        }
        for (Consumer<Rejection> l : rejectionListeners) {
            try {
                l.accept(rejection);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "rejection listener failed", e);
            }
        }
    }

    /**
     * Registers a listener told each changed row (table, key, deleted) of every applied feed batch, on the
     * sync thread after the batch committed locally; keep it short.
     */
    public void addRemoteRowListener(Consumer<List<RemoteChange>> listener) {
        rowListeners.add(listener);
    }

    public void removeRemoteRowListener(Consumer<List<RemoteChange>> listener) {
        rowListeners.remove(listener);
    }

    private void fireRemoteChange(List<RemoteChange> rows) {
        for (Consumer<List<RemoteChange>> l : rowListeners) {
            try {
                l.accept(rows);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "remote row listener failed", e);
            }
        }
        Set<String> tables = new java.util.LinkedHashSet<>();
        rows.forEach(r -> tables.add(r.table()));
        fireRemoteTables(tables);
    }

    private void fireRemoteTables(Set<String> tables) {
        for (Consumer<Set<String>> l : listeners) {
            try {
                l.accept(tables);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "remote change listener failed", e);
            }
        }
    }
}
