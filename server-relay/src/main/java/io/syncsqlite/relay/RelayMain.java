package io.syncsqlite.relay;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * Command line entry point: {@code java -jar syncsqlite-relay.jar [options]}.
 *
 * <p>Options come from flags, else from environment variables, else defaults. Without a PostgreSQL URL
 * the relay starts an embedded PostgreSQL (for a first try) and stops it on exit.
 *
 * <p>Thread-safe: {@link #parse} is a pure function; {@link #main} runs once per process.
 */
public final class RelayMain {

    static final String USAGE = """
            Usage: java -jar syncsqlite-relay.jar [options]

            Syncs SQLite files (jdbc:syncsqlite: driver) with one PostgreSQL database.

            Options (each may also be given as --name=value):
              --pg-url URL         JDBC URL of PostgreSQL, e.g. jdbc:postgresql://db:5432/app
                                   [env SYNCSQLITE_PG_URL; default: start an embedded PostgreSQL]
              --pg-user USER       database user            [env SYNCSQLITE_PG_USER]
              --pg-password PASS   database password        [env SYNCSQLITE_PG_PASSWORD]
              --host HOST          address to listen on     [env SYNCSQLITE_HOST; default 0.0.0.0]
              --port PORT          WebSocket port, 0 = any  [env SYNCSQLITE_PORT; default 7780]
              --schema SCHEMA      schema of synced tables  [env SYNCSQLITE_SCHEMA; default public]
              --tables a,b,c       tables to sync           [env SYNCSQLITE_TABLES; default: every table
                                   of the schema that has a primary key]
              --pool-size N        database connections for applying changes [default 8]
              --max-frame-bytes N  largest frame accepted from a client [default 16777216]
              --http-port PORT     serve GET /health and /metrics (Prometheus) on this port, 0 = any
                                   [env SYNCSQLITE_HTTP_PORT; default: not served]
              --jwt-secret SECRET  require clients to present a JWT signed HS256 with this secret
                                   (32 bytes or more) [env SYNCSQLITE_JWT_SECRET]
              --jwks-file FILE     ...or RS256/ES256 with a public key of this JWKS file [env SYNCSQLITE_JWKS_FILE]
              --jwt-audience AUD   tokens must name this audience [env SYNCSQLITE_JWT_AUDIENCE]
              --retention-hours H  keep the change history H hours; clients offline longer resync
                                   from a snapshot [env SYNCSQLITE_RETENTION_HOURS; default: forever]
              --tls-keystore FILE  serve wss:// with the certificate in this PKCS12 keystore
                                   [env SYNCSQLITE_TLS_KEYSTORE; password: --tls-keystore-password or
                                   SYNCSQLITE_TLS_KEYSTORE_PASSWORD]
              --scopes FILE        per-user scopes: which rows of each table a user may read and write,
                                   by claims of their token (JSON; see docs/OPERATIONS.md); needs
                                   --jwt-secret or --jwks-file [env SYNCSQLITE_SCOPES]
              --max-connections N  clients served at once; more are refused with 1013 [default 10000]
              --lock-timeout-ms N  longest wait for a row another writer holds locked; the client whose
                                   change waits longer reconnects and sends it again [default 10000]
              --statement-timeout-ms N
                                   longest a statement of an apply, snapshot or history read may run,
                                   above --lock-timeout-ms; the relay waits twice that plus 5 s for a
                                   reply, then drops the connection (a database that stopped
                                   answering); 0 = no bound [default 30000]
              --log-format FORMAT  text, or json (one JSON object per line) [env SYNCSQLITE_LOG_FORMAT]
              --config FILE        read options from a properties file (keys as the flags without
                                   dashes: pg-url=..., port=...) [env SYNCSQLITE_CONFIG];
                                   flags override environment variables, which override the file
              --help               print this help and exit

            Clients connect to ws://HOST:PORT/sync.
            """;

    private RelayMain() {
    }

    /**
     * Parsed command line.
     *
     * @param pgUrl null when PostgreSQL should be embedded
     */
    record Options(boolean help, String pgUrl, String pgUser, String pgPassword, String host, int port,
                   String schema, List<String> tables, int poolSize, int maxFrameBytes, int httpPort,
                   RelayConfig.Auth auth, java.time.Duration retention, RelayConfig.Tls tls, String logFormat,
                   java.nio.file.Path scopes, int maxConnections, java.time.Duration lockTimeout,
                   java.time.Duration statementTimeout) {

        RelayConfig config(String url, String user, String password) {
            return new RelayConfig(url, user, password, host, port, schema, tables, poolSize, maxFrameBytes, httpPort,
                    auth, retention, tls, scopes, maxConnections, lockTimeout, statementTimeout);
        }
    }

    /** A command line the relay cannot run with; the message says why. */
    static final class UsageException extends Exception {
        UsageException(String message) {
            super(message);
        }
    }

    public static void main(String[] args) {
        Options options;
        try {
            options = parse(args, System.getenv());
        } catch (UsageException e) {
            System.err.println("syncsqlite-relay: " + e.getMessage());
            System.err.println("Run with --help for the options.");
            System.exit(2);
            return;
        }
        if (options.help()) {
            System.out.print(USAGE);
            return;
        }
        // Before the first logger exists: a readable default for the command line, unless overridden.
        if (System.getProperty("logback.configurationFile") == null) {
            System.setProperty("logback.configurationFile", options.logFormat().equals("json")
                    ? "io/syncsqlite/relay/relay-logback-json.xml" : "io/syncsqlite/relay/relay-logback.xml");
        }
        Logger log = LoggerFactory.getLogger(RelayMain.class);
        EmbeddedDatabase embedded = null;
        Relay relay;
        try {
            RelayConfig config;
            if (options.pgUrl() == null) {
                log.info("no PostgreSQL URL given (--pg-url or SYNCSQLITE_PG_URL): starting an embedded PostgreSQL");
                embedded = EmbeddedDatabase.start(false); // stopped by our hook, after the relay
                log.info("embedded PostgreSQL: {} user {}", embedded.jdbcUrl(), embedded.user());
                config = options.config(embedded.jdbcUrl(), embedded.user(), embedded.password());
            } else {
                config = options.config(options.pgUrl(), options.pgUser(), options.pgPassword());
            }
            relay = Relay.start(config);
        } catch (Exception e) {
            log.error("relay failed to start: {}", e.toString());
            closeQuietly(embedded);
            System.exit(1);
            return;
        }
        EmbeddedDatabase db = embedded;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            relay.close();
            closeQuietly(db);
        }, "syncsqlite-shutdown"));
        try {
            // The relay's threads are daemons: park here until the shutdown hook ends the process.
            new CountDownLatch(1).await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Flags win over environment variables, which win over defaults. */
    /** An option by name (a flag without its dashes), and its environment variable or {@code null}. */
    private record Option(String name, String env) {
    }

    private static final List<Option> OPTIONS = List.of(
            new Option("pg-url", "SYNCSQLITE_PG_URL"), new Option("pg-user", "SYNCSQLITE_PG_USER"),
            new Option("pg-password", "SYNCSQLITE_PG_PASSWORD"), new Option("host", "SYNCSQLITE_HOST"),
            new Option("port", "SYNCSQLITE_PORT"), new Option("schema", "SYNCSQLITE_SCHEMA"),
            new Option("tables", "SYNCSQLITE_TABLES"), new Option("pool-size", null),
            new Option("max-frame-bytes", null), new Option("http-port", "SYNCSQLITE_HTTP_PORT"),
            new Option("jwt-secret", "SYNCSQLITE_JWT_SECRET"), new Option("jwks-file", "SYNCSQLITE_JWKS_FILE"),
            new Option("jwt-audience", "SYNCSQLITE_JWT_AUDIENCE"),
            new Option("retention-hours", "SYNCSQLITE_RETENTION_HOURS"),
            new Option("tls-keystore", "SYNCSQLITE_TLS_KEYSTORE"),
            new Option("tls-keystore-password", "SYNCSQLITE_TLS_KEYSTORE_PASSWORD"),
            new Option("log-format", "SYNCSQLITE_LOG_FORMAT"), new Option("scopes", "SYNCSQLITE_SCOPES"),
            new Option("max-connections", null), new Option("lock-timeout-ms", null),
            new Option("statement-timeout-ms", null));

    private static boolean known(String name) {
        return OPTIONS.stream().anyMatch(o -> o.name().equals(name));
    }

    /**
     * Reads the options: a config file ({@code --config FILE} or {@code SYNCSQLITE_CONFIG}; Java
     * properties whose keys are the flag names without dashes, e.g. {@code pg-url=...}), then environment
     * variables, then flags, each overriding the one before.
     */
    static Options parse(String[] args, Map<String, String> env) throws UsageException {
        Map<String, String> flags = new java.util.HashMap<>();
        boolean help = false;
        String configFile = env.get("SYNCSQLITE_CONFIG");

        List<String> rest = new ArrayList<>(Arrays.asList(args));
        while (!rest.isEmpty()) {
            String arg = rest.remove(0);
            if (arg.equals("--help") || arg.equals("-h")) {
                help = true;
                continue;
            }
            if (!arg.startsWith("--")) {
                throw new UsageException("unexpected argument '" + arg + "'");
            }
            String name = arg;
            String value;
            int eq = arg.indexOf('=');
            if (eq > 0) {
                name = arg.substring(0, eq);
                value = arg.substring(eq + 1);
            } else {
                if (rest.isEmpty() || rest.get(0).startsWith("--")) {
                    throw new UsageException("option " + name + " needs a value");
                }
                value = rest.remove(0);
            }
            String key = name.substring(2);
            if (key.equals("config")) {
                configFile = value;
            } else if (known(key)) {
                flags.put(key, value);
            } else {
                throw new UsageException("unknown option " + name);
            }
        }
        Map<String, String> values = new java.util.HashMap<>(readConfig(configFile));
        for (Option o : OPTIONS) {
            if (o.env() != null && env.get(o.env()) != null) {
                values.put(o.name(), env.get(o.env()));
            }
        }
        values.putAll(flags);
        String pgUrl = values.get("pg-url");
        String pgUser = values.get("pg-user");
        String pgPassword = values.get("pg-password");
        String host = values.getOrDefault("host", RelayConfig.DEFAULT_HOST);
        String port = values.get("port");
        String schema = values.getOrDefault("schema", RelayConfig.DEFAULT_SCHEMA);
        String tables = values.get("tables");
        String poolSize = values.get("pool-size");
        String maxFrameBytes = values.get("max-frame-bytes");
        String httpPort = values.get("http-port");
        RelayConfig.Auth auth = null;
        if (values.get("jwt-secret") != null || values.get("jwks-file") != null) {
            auth = new RelayConfig.Auth(values.get("jwt-secret"),
                    values.get("jwks-file") == null ? null : java.nio.file.Path.of(values.get("jwks-file")),
                    values.get("jwt-audience"));
        } else if (values.get("jwt-audience") != null) {
            throw new UsageException("--jwt-audience needs --jwt-secret or --jwks-file");
        }
        if (values.get("scopes") != null && auth == null) {
            throw new UsageException("--scopes needs --jwt-secret or --jwks-file: without a token there is no user to scope");
        }
        if (pgUrl != null && pgUrl.isBlank()) {
            pgUrl = null;
        }
        if (pgUrl == null && (pgUser != null || pgPassword != null)) {
            // Credentials for a server nobody named: most likely a URL variable left empty (a compose file's unset
            // ${DATABASE_URL}), and the embedded PostgreSQL would take every device's data into a throwaway database.
            throw new UsageException("--pg-user and --pg-password need --pg-url (SYNCSQLITE_PG_URL is empty or unset);"
                    + " without a URL the relay starts an embedded PostgreSQL");
        }
        if (pgUrl != null && !pgUrl.startsWith("jdbc:postgresql:")) {
            throw new UsageException("--pg-url must be a PostgreSQL JDBC URL (jdbc:postgresql://host:port/db), got "
                    + RelayConfig.maskUrl(pgUrl));
        }
        if (host.isBlank()) {
            throw new UsageException("--host must not be empty");
        }
        if (schema.isBlank()) {
            throw new UsageException("--schema must not be empty");
        }
        java.time.Duration lockTimeout = java.time.Duration.ofMillis(number("--lock-timeout-ms",
                values.get("lock-timeout-ms"), (int) RelayConfig.DEFAULT_LOCK_TIMEOUT.toMillis(), 1, 3_600_000));
        java.time.Duration statementTimeout = java.time.Duration.ofMillis(number("--statement-timeout-ms",
                values.get("statement-timeout-ms"), (int) RelayConfig.DEFAULT_STATEMENT_TIMEOUT.toMillis(), 0, 86_400_000));
        if (!statementTimeout.isZero() && statementTimeout.compareTo(lockTimeout) <= 0) {
            throw new UsageException("--statement-timeout-ms (" + statementTimeout.toMillis() + ") must exceed"
                    + " --lock-timeout-ms (" + lockTimeout.toMillis() + "), or be 0 for no bound");
        }
        return new Options(help, pgUrl, pgUser, pgPassword, host,
                number("--port", port, RelayConfig.DEFAULT_PORT, 0, 65535), schema, tableList(tables),
                number("--pool-size", poolSize, RelayConfig.DEFAULT_POOL_SIZE, 1, 1000),
                number("--max-frame-bytes", maxFrameBytes, RelayConfig.DEFAULT_MAX_FRAME_BYTES, 1024, Integer.MAX_VALUE),
                number("--http-port", httpPort, RelayConfig.NO_HTTP, 0, 65535), auth,
                retention(values.get("retention-hours")),
                values.get("tls-keystore") == null ? null : new RelayConfig.Tls(
                        java.nio.file.Path.of(values.get("tls-keystore")), values.getOrDefault("tls-keystore-password", "")),
                logFormat(values.get("log-format")),
                values.get("scopes") == null ? null : java.nio.file.Path.of(values.get("scopes")),
                number("--max-connections", values.get("max-connections"), RelayConfig.DEFAULT_MAX_CONNECTIONS, 1,
                        1_000_000),
                lockTimeout, statementTimeout);
    }

    private static String logFormat(String value) throws UsageException {
        String f = value == null ? "text" : value.trim();
        if (!f.equals("text") && !f.equals("json")) {
            throw new UsageException("--log-format must be text or json, got '" + f + "'");
        }
        return f;
    }

    private static java.time.Duration retention(String hours) throws UsageException {
        if (hours == null) {
            return null;
        }
        int h = number("--retention-hours", hours, 0, 1, 100_000);
        return java.time.Duration.ofHours(h);
    }

    private static Map<String, String> readConfig(String file) throws UsageException {
        if (file == null || file.isBlank()) {
            return Map.of();
        }
        java.util.Properties p = new java.util.Properties();
        try (java.io.Reader r = java.nio.file.Files.newBufferedReader(java.nio.file.Path.of(file))) {
            p.load(r);
        } catch (java.io.IOException e) {
            throw new UsageException("cannot read config file " + file + ": " + e.getMessage());
        }
        Map<String, String> out = new java.util.HashMap<>();
        for (String key : p.stringPropertyNames()) {
            if (!known(key)) {
                throw new UsageException("unknown key '" + key + "' in config file " + file + "; known: "
                        + String.join(", ", OPTIONS.stream().map(Option::name).toList()));
            }
            out.put(key, p.getProperty(key).trim());
        }
        return out;
    }

    private static int number(String name, String value, int fallback, int min, int max) throws UsageException {
        if (value == null) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(value.trim());
            if (n < min || n > max) {
                throw new UsageException(name + " must be between " + min + " and " + max + ", got " + n);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException(name + " must be a number, got '" + value + "'");
        }
    }

    private static List<String> tableList(String tables) throws UsageException {
        if (tables == null) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (String t : tables.split(",")) {
            String name = t.trim();
            if (!name.isEmpty()) {
                out.add(name);
            }
        }
        if (out.isEmpty() && !tables.isBlank()) {
            throw new UsageException("--tables lists no table names");
        }
        return out;
    }

    private static void closeQuietly(EmbeddedDatabase db) {
        if (db == null) {
            return;
        }
        try {
            db.close();
        } catch (Exception e) {
            PrintStream err = System.err;
            err.println("syncsqlite-relay: could not stop the embedded PostgreSQL: " + e);
        }
    }
}
