package io.syncsqlite.driver.sync;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * Test fixture: a fresh SQLite file per test, with the application's connection through the driver (which
 * installs capture) and a sync client's store on a plain sqlite-jdbc connection to the same file.
 */
abstract class LocalStoreFixture {

    @TempDir
    Path dir;
    Connection app;
    Connection client;
    LocalStore store;

    /** The tables the application creates through the driver before the store opens. */
    abstract List<String> schema();

    String file() {
        return dir.resolve("app.db").toString();
    }

    @BeforeEach
    void openFile() throws SQLException {
        app = DriverManager.getConnection("jdbc:syncsqlite:" + file() + "?sync.lingerMs=0");
        for (String sql : schema()) {
            exec(sql);
        }
        client = DriverManager.getConnection("jdbc:sqlite:" + file());
        store = LocalStores.open(client);
    }

    @AfterEach
    void closeFile() throws SQLException {
        store.close();
        client.close();
        app.close();
    }

    /** Runs {@code sql} on the application's connection. */
    void exec(String sql) throws SQLException {
        try (Statement st = app.createStatement()) {
            st.execute(sql);
        }
    }

    /** The single number {@code sql} returns on the application's connection. */
    long appLong(String sql) throws SQLException {
        try (Statement st = app.createStatement(); java.sql.ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    static com.fasterxml.jackson.databind.node.ObjectNode json(String s) throws Exception {
        return (com.fasterxml.jackson.databind.node.ObjectNode) io.syncsqlite.protocol.MessageCodec.JSON.readTree(s);
    }

    /** Closes the store and its connection and opens both again, as a restart of the application does. */
    void reopenStore() throws SQLException {
        store.close();
        client.close();
        client = DriverManager.getConnection("jdbc:sqlite:" + file());
        store = LocalStores.open(client);
    }
}
