package io.syncsqlite.driver.config;

import java.util.Properties;

/**
 * Every connection property of the syncsqlite driver, in one place: its key, default, description and
 * allowed values drive URL parsing, validation and {@link java.sql.Driver#getPropertyInfo}.
 *
 * <p>All keys live under {@code sync.} so they never collide with sqlite-jdbc options (pragmas such as
 * {@code journal_mode}), which pass through untouched.
 *
 * <p>Immutable; thread-safe.
 */
public enum SyncProperty {
    SERVER("sync.server", "",
            "Relay WebSocket URL(s), comma-separated (ws:// or wss://). Empty: capture only, no sync."),
    TABLES("sync.tables", "",
            "Comma-separated synced tables. Empty: every table with a primary key."),
    COUNTERS("sync.counters", "",
            "Comma-separated table.column counters: besides SET c = c + ?, an INSERT adds its value to them"
                    + " when the row already exists elsewhere."),
    LWW("sync.lww", "",
            "Comma-separated table.column pairs always merged last-writer-wins, even when written as c = c + ?."),
    NODE("sync.node", "",
            "Node id of this database file. Empty: a random id generated once and stored in the file."),
    ENABLED("sync.enabled", "true",
            "false opens the file with capture but without the background sync client.", "true", "false"),
    RECONNECT_MAX_MS("sync.reconnectMaxMs", "10000",
            "Upper bound of the reconnect backoff, in milliseconds."),
    BATCH_ROWS("sync.batchRows", "2000",
            "Most row changes sent in one push message."),
    LINGER_MS("sync.lingerMs", "2000",
            "How long the sync client keeps running after the last connection to the file closes."),
    TOKEN("sync.token", "",
            "Token (a JWT) presented to the relay as 'Authorization: Bearer'. For tokens that expire, register a"
                    + " supplier instead (SyncDataSource.setTokenSupplier or SyncNode.setTokenSupplier)."),
    TRUST_STORE("sync.trustStore", "",
            "Trust store (PKCS12 or JKS file) for wss:// relays with certificates the JDK does not trust."
                    + " Empty: the JDK's default trust store."),
    TRUST_STORE_PASSWORD("sync.trustStorePassword", "",
            "Password of sync.trustStore."),
    SCHEMA("sync.schema", "local",
            "local: the application creates its tables. server: tables the relay syncs that the file lacks are"
                    + " created from the server's schema at the first connection (their rows follow).",
            "local", "server"),
    ID_BLOCK("sync.idBlock", "1000",
            "Integer keys reserved from the relay per request, for rows inserted without a key into a synced"
                    + " table with an INTEGER PRIMARY KEY. The client keeps at least this many in stock, so it"
                    + " can insert that many rows per table while offline.");

    private final String key;
    private final String defaultValue;
    private final String description;
    private final String[] choices;

    SyncProperty(String key, String defaultValue, String description, String... choices) {
        this.key = key;
        this.defaultValue = defaultValue;
        this.description = description;
        this.choices = choices;
    }

    public String key() {
        return key;
    }

    public String defaultValue() {
        return defaultValue;
    }

    public String description() {
        return description;
    }

    public String[] choices() {
        return choices.clone();
    }

    public boolean isChoice() {
        return choices.length > 0;
    }

    public String get(Properties props) {
        return props.getProperty(key, defaultValue);
    }

    public static SyncProperty forKey(String key) {
        for (SyncProperty p : values()) {
            if (p.key.equals(key)) {
                return p;
            }
        }
        return null;
    }
}
