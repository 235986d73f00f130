package io.syncsqlite.bench.e2e;

import io.syncsqlite.relay.EmbeddedDatabase;

import java.io.IOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The PostgreSQL server the harness uses, found like the tests find theirs: a JDBC URL given on the
 * command line or in {@code SYNCSQLITE_TEST_PG_URL} (with {@code _USER}/{@code _PASSWORD}), else an
 * embedded one. Hands out fresh databases and drops them again.
 */
final class PgServer implements AutoCloseable {

    private static final Pattern URL = Pattern.compile("^(jdbc:postgresql://[^/?]*)(/[^?]*)?(\\?.*)?$");

    private final String adminUrl;
    private final String user;
    private final String password;
    private final EmbeddedDatabase embedded;

    private PgServer(String adminUrl, String user, String password, EmbeddedDatabase embedded) {
        this.adminUrl = adminUrl;
        this.user = user;
        this.password = password;
        this.embedded = embedded;
    }

    static PgServer find(String url, String user, String password) throws IOException {
        if (url == null) {
            url = System.getenv("SYNCSQLITE_TEST_PG_URL");
            if (user == null) {
                user = System.getenv("SYNCSQLITE_TEST_PG_USER");
            }
            if (password == null) {
                password = System.getenv("SYNCSQLITE_TEST_PG_PASSWORD");
            }
        }
        if (url != null && !url.isBlank()) {
            return new PgServer(url, user == null ? "postgres" : user, password == null ? "" : password, null);
        }
        EmbeddedDatabase db = EmbeddedDatabase.start();
        return new PgServer(db.jdbcUrl(), db.user(), db.password(), db);
    }

    String kind() {
        return embedded != null ? "embedded (io.zonky)" : "external";
    }

    String adminUrl() {
        return adminUrl;
    }

    String user() {
        return user;
    }

    String password() {
        return password;
    }

    String version() throws SQLException {
        try (Connection c = DriverManager.getConnection(adminUrl, user, password);
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT version()")) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** Creates a new, empty database and returns its name. */
    String newDatabase(String prefix) throws SQLException {
        String name = prefix.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "_") + "_"
                + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        try (Connection c = DriverManager.getConnection(adminUrl, user, password); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + name);
        }
        return name;
    }

    void drop(String name) {
        try (Connection c = DriverManager.getConnection(adminUrl, user, password); Statement st = c.createStatement()) {
            st.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
        } catch (SQLException e) {
            System.err.println("warning: could not drop database " + name + ": " + e.getMessage());
        }
    }

    /** The JDBC URL of database {@code name} on this server, with extra parameters ({@code a=b&c=d}) if any. */
    String url(String name, String extraParams) {
        Matcher m = URL.matcher(adminUrl);
        if (!m.matches()) {
            throw new IllegalArgumentException("unsupported PostgreSQL JDBC URL: " + adminUrl);
        }
        String query = m.group(3) == null ? "" : m.group(3);
        if (extraParams != null && !extraParams.isEmpty()) {
            query = query.isEmpty() ? "?" + extraParams : query + "&" + extraParams;
        }
        return m.group(1) + "/" + name + query;
    }

    Connection connect(String name) throws SQLException {
        return DriverManager.getConnection(url(name, null), user, password);
    }

    Connection connect(String name, String extraParams) throws SQLException {
        return DriverManager.getConnection(url(name, extraParams), user, password);
    }

    @Override
    public void close() throws IOException {
        if (embedded != null) {
            embedded.close();
        }
    }
}
