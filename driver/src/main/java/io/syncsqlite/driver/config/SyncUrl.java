package io.syncsqlite.driver.config;

import io.syncsqlite.driver.jdbc.SyncSqlState;
import io.syncsqlite.protocol.Message;

import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;

/**
 * A parsed {@code jdbc:syncsqlite:<path>?k=v&...} URL merged with connection {@link Properties}.
 *
 * <p>Keys starting with {@code sync.} are ours and validated; every other parameter (URL or Properties)
 * passes through to sqlite-jdbc unchanged. URL parameters override Properties, as in sqlite-jdbc.
 *
 * @param sqliteUrl     the {@code jdbc:sqlite:} URL to open, with the non-sync parameters
 * @param sqliteProps   properties for sqlite-jdbc (never contains {@code sync.*} keys)
 * @param path          the database path as written in the URL (may be {@code :memory:})
 * @param servers       relay URIs, empty for capture without sync
 * @param tables        synced table names (lower case), empty for "every table with a primary key"
 * @param counters      columns declared counters, as lower-case {@code table.column}
 * @param lww           columns declared last-writer-wins (never counters), as lower-case {@code table.column}
 * @param node          configured node id, or empty
 * @param syncEnabled   whether to run the background sync client
 * @param reconnectMaxMs backoff ceiling
 * @param batchRows     rows per push
 * @param lingerMs      how long sync outlives the last connection
 * @param idBlock       integer keys requested from the relay at a time, per table
 * @param token         token presented to the relay, empty for none (never printed)
 * @param trustStore    trust store file for wss:// relays, empty for the JDK's default
 * @param trustStorePassword its password (never printed)
 * @param schemaFromServer whether missing synced tables are created from the relay's schema
 */
public record SyncUrl(String sqliteUrl, Properties sqliteProps, String path, List<URI> servers,
                      Set<String> tables, Set<String> counters, Set<String> lww, String node, boolean syncEnabled, long reconnectMaxMs,
                      int batchRows, long lingerMs, int idBlock, String token,
                      String trustStore, String trustStorePassword, boolean schemaFromServer) {

    public static final String PREFIX = "jdbc:syncsqlite:";

    public static boolean accepts(String url) {
        return url != null && url.startsWith(PREFIX);
    }

    public static SyncUrl parse(String url, Properties info) throws SQLException {
        if (!accepts(url)) {
            throw new SQLException("not a syncsqlite URL: " + mask(url), SyncSqlState.INVALID_PARAMETER.code());
        }
        String rest = url.substring(PREFIX.length());
        int q = rest.indexOf('?');
        String path = q < 0 ? rest : rest.substring(0, q);
        if (path.isBlank()) {
            throw new SQLException("syncsqlite URL has no database path: " + mask(url),
                    SyncSqlState.INVALID_PARAMETER.code());
        }
        Properties sync = new Properties();
        Properties sqlite = new Properties();
        if (info != null) {
            for (String k : info.stringPropertyNames()) { // with the defaults a Properties may carry
                (isSyncKey(k) ? sync : sqlite).setProperty(k, info.getProperty(k));
            }
            // stringPropertyNames() skips values that are not strings: props.put("sync.batchRows", 50) was
            // silently dropped. Ours are read as their text.
            for (java.util.Map.Entry<Object, Object> e : info.entrySet()) {
                if (e.getKey() instanceof String k && isSyncKey(k) && e.getValue() != null && !(e.getValue() instanceof String)) {
                    sync.setProperty(k, String.valueOf(e.getValue()));
                }
            }
        }
        List<String> passthrough = new ArrayList<>();
        if (q >= 0) {
            for (String pair : rest.substring(q + 1).split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                if (eq <= 0) {
                    throw new SQLException("malformed URL parameter '" + pair + "' (expected key=value)",
                            SyncSqlState.INVALID_PARAMETER.code());
                }
                String key = pair.substring(0, eq);
                if (isSyncKey(key)) {
                    sync.setProperty(key, URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
                } else {
                    passthrough.add(pair);
                }
            }
        }
        for (String k : sync.stringPropertyNames()) {
            SyncProperty p = k.startsWith("sync.") ? SyncProperty.forKey(k) : null;
            if (p == null) {
                throw new SQLException("unknown syncsqlite property '" + k + "'; known: " + knownKeys(),
                        SyncSqlState.INVALID_PARAMETER.code());
            }
            if (p.isChoice() && !List.of(p.choices()).contains(sync.getProperty(k))) {
                throw new SQLException("property '" + k + "' must be one of " + List.of(p.choices())
                        + ", was '" + sync.getProperty(k) + "'", SyncSqlState.INVALID_PARAMETER.code());
            }
        }
        String node = SyncProperty.NODE.get(sync).trim();
        String badNode = node.isEmpty() ? null : Message.nodeIdProblem(node);
        if (badNode != null) {
            throw new SQLException("sync.node: " + badNode, SyncSqlState.INVALID_PARAMETER.code());
        }
        String sqliteUrl = "jdbc:sqlite:" + path + (passthrough.isEmpty() ? "" : "?" + String.join("&", passthrough));
        return new SyncUrl(sqliteUrl, sqlite, path, servers(SyncProperty.SERVER.get(sync)),
                tables(SyncProperty.TABLES.get(sync)), counters(SyncProperty.COUNTERS.get(sync)),
                counters(SyncProperty.LWW.get(sync)),
                node,
                Boolean.parseBoolean(SyncProperty.ENABLED.get(sync)),
                positive(sync, SyncProperty.RECONNECT_MAX_MS), intRange(sync, SyncProperty.BATCH_ROWS),
                nonNegative(sync, SyncProperty.LINGER_MS), idBlock(sync), SyncProperty.TOKEN.get(sync).trim(),
                SyncProperty.TRUST_STORE.get(sync).trim(), SyncProperty.TRUST_STORE_PASSWORD.get(sync),
                "server".equals(SyncProperty.SCHEMA.get(sync)));
    }

    /**
     * Whether a key is one of ours: {@code sync.} in any letter case, so that a misspelled {@code Sync.server} is
     * refused as unknown instead of passing to sqlite-jdbc, which keeps parameters it does not know in the file
     * name and opened another, empty database ({@code case.db?Sync.lingerMs=0}).
     */
    private static boolean isSyncKey(String key) {
        return key.regionMatches(true, 0, "sync.", 0, 5);
    }

    private static int intRange(Properties sync, SyncProperty p) throws SQLException {
        long v = positive(sync, p);
        if (v > Integer.MAX_VALUE) {
            throw new SQLException(p.key() + " must be at most " + Integer.MAX_VALUE + ", was " + v,
                    SyncSqlState.INVALID_PARAMETER.code());
        }
        return (int) v;
    }

    private static int idBlock(Properties sync) throws SQLException {
        long v = positive(sync, SyncProperty.ID_BLOCK);
        if (v > Message.MAX_ID_REQUEST) {
            throw new SQLException("sync.idBlock must be at most " + Message.MAX_ID_REQUEST
                    + ", was " + v, SyncSqlState.INVALID_PARAMETER.code());
        }
        return (int) v;
    }

    /**
     * The sqlite-jdbc settings in force: the properties given with the connection, overridden by the
     * parameters in the URL, as sqlite-jdbc applies them ({@code date_class}, {@code date_precision}, ...).
     */
    public Properties sqliteSettings() {
        Properties out = new Properties();
        out.putAll(sqliteProps);
        int q = sqliteUrl.indexOf('?');
        if (q >= 0) {
            for (String pair : sqliteUrl.substring(q + 1).split("&")) {
                int eq = pair.indexOf('=');
                out.setProperty(pair.substring(0, eq), URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    /**
     * The sync options, by key, without the SQLite part of the URL: what every connection to one file shares,
     * since they share one {@code SyncNode}. Credentials are compared, never shown ({@link #differences}).
     */
    private java.util.Map<String, Object> syncOptions() {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put(SyncProperty.SERVER.key(), servers);
        m.put(SyncProperty.TABLES.key(), tables);
        m.put(SyncProperty.COUNTERS.key(), counters);
        m.put(SyncProperty.LWW.key(), lww);
        m.put(SyncProperty.NODE.key(), node);
        m.put(SyncProperty.ENABLED.key(), syncEnabled);
        m.put(SyncProperty.RECONNECT_MAX_MS.key(), reconnectMaxMs);
        m.put(SyncProperty.BATCH_ROWS.key(), batchRows);
        m.put(SyncProperty.LINGER_MS.key(), lingerMs);
        m.put(SyncProperty.ID_BLOCK.key(), idBlock);
        m.put(SyncProperty.TOKEN.key(), token);
        m.put(SyncProperty.TRUST_STORE.key(), trustStore);
        m.put(SyncProperty.TRUST_STORE_PASSWORD.key(), trustStorePassword);
        m.put(SyncProperty.SCHEMA.key(), schemaFromServer);
        return m;
    }

    /** The keys of the sync options whose values differ between the two. */
    public List<String> differences(SyncUrl other) {
        java.util.Map<String, Object> mine = syncOptions();
        java.util.Map<String, Object> theirs = other.syncOptions();
        return mine.keySet().stream().filter(k -> !mine.get(k).equals(theirs.get(k))).toList();
    }

    /** Whether every sync option has its default value: the URL asks nothing of the sync. */
    public boolean syncDefaults() {
        return differences(DEFAULTS).isEmpty();
    }

    private static final SyncUrl DEFAULTS;

    static {
        try {
            DEFAULTS = parse(PREFIX + "defaults", null);
        } catch (SQLException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** True when the path names a file (not an in-memory database), so several connections share it. */
    public boolean isFile() {
        return !path.startsWith(":memory:") && !path.startsWith("file::memory:") && !path.contains("mode=memory");
    }

    private static List<URI> servers(String value) throws SQLException {
        List<URI> out = new ArrayList<>();
        for (String s : value.split(",")) {
            s = s.trim();
            if (s.isEmpty()) {
                continue;
            }
            URI uri;
            try {
                uri = URI.create(s);
            } catch (IllegalArgumentException e) {
                throw new SQLException("sync.server is not a URI: " + mask(s), SyncSqlState.INVALID_PARAMETER.code(), e);
            }
            String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
            if (!scheme.equals("ws") && !scheme.equals("wss") || uri.getHost() == null) {
                throw new SQLException("sync.server must be ws://host:port/path or wss://..., was " + mask(s),
                        SyncSqlState.INVALID_PARAMETER.code());
            }
            out.add(uri);
        }
        return List.copyOf(out);
    }

    private static Set<String> tables(String value) {
        Set<String> out = new LinkedHashSet<>();
        for (String t : value.split(",")) {
            if (!t.isBlank()) {
                out.add(t.trim().toLowerCase(Locale.ROOT));
            }
        }
        return Set.copyOf(out);
    }

    private static Set<String> counters(String value) throws SQLException {
        Set<String> out = tables(value);
        for (String c : out) {
            int dot = c.indexOf('.');
            if (dot <= 0 || dot == c.length() - 1) {
                throw new SQLException("sync.counters and sync.lww take table.column pairs, got '" + c + "'",
                        SyncSqlState.INVALID_PARAMETER.code());
            }
        }
        return out;
    }

    private static long positive(Properties p, SyncProperty prop) throws SQLException {
        long v = nonNegative(p, prop);
        if (v == 0) {
            throw new SQLException("property '" + prop.key() + "' must be positive", SyncSqlState.INVALID_PARAMETER.code());
        }
        return v;
    }

    private static long nonNegative(Properties p, SyncProperty prop) throws SQLException {
        String raw = prop.get(p).trim();
        try {
            long v = Long.parseLong(raw);
            if (v < 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new SQLException("property '" + prop.key() + "' must be a non-negative integer, was '" + raw + "'",
                    SyncSqlState.INVALID_PARAMETER.code());
        }
    }

    private static String knownKeys() {
        List<String> keys = new ArrayList<>();
        for (SyncProperty p : SyncProperty.values()) {
            keys.add(p.key());
        }
        return String.join(", ", keys);
    }

    /** Hides anything that looks like a credential (userinfo, token or password parameters) in a URL. */
    public static String mask(String url) {
        if (url == null) {
            return null;
        }
        return url.replaceAll("(?i)((?:token|password|secret)=)[^&]*", "$1***")
                .replaceAll("//[^/@]*@", "//***@");
    }

    @Override
    public String toString() {
        return "SyncUrl[" + mask(sqliteUrl) + ", servers=" + servers.size() + ", tables=" + tables + "]";
    }
}
