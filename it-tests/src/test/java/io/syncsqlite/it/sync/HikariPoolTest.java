package io.syncsqlite.it.sync;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.syncsqlite.driver.jdbc.SyncConnection;
import io.syncsqlite.driver.jdbc.SyncDataSource;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The driver behind HikariCP, as a Spring Boot application would configure it (a JDBC URL, or a
 * DataSource): several pooled connections on several threads write to one synced file at once, with
 * integer keys and manual transactions, and everything reaches PostgreSQL once.
 */
class HikariPoolTest {

    private static final String PG = "CREATE TABLE item (id bigserial PRIMARY KEY, name text NOT NULL, worker int, hits int NOT NULL DEFAULT 0)";
    private static final String LOCAL = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, worker INTEGER, hits INTEGER NOT NULL DEFAULT 0)";

    @TempDir
    Path dir;

    @Test
    void poolConfiguredByJdbcUrl() throws Exception {
        run("hikari_url", config -> { });
    }

    @Test
    void poolConfiguredWithTheDriversDataSource() throws Exception {
        run("hikari_ds", config -> {
            config.setDataSource(new SyncDataSource(config.getJdbcUrl()));
            config.setJdbcUrl(null);
        });
    }

    private void run(String name, Consumer<HikariConfig> customize) throws Exception {
        try (Cluster cluster = Cluster.start(name, dir, PG)) {
            Client owner = cluster.client("a", LOCAL);
            HikariConfig config = new HikariConfig();
            config.setJdbcUrl(owner.url());
            config.setMaximumPoolSize(4);
            config.setPoolName(name);
            customize.accept(config);
            int workers = 4;
            int rows = 25;
            try (HikariDataSource pool = new HikariDataSource(config)) {
                ExecutorService threads = Executors.newFixedThreadPool(workers);
                List<Future<?>> done = new ArrayList<>();
                for (int w = 0; w < workers; w++) {
                    int worker = w;
                    done.add(threads.submit(() -> {
                        for (int i = 0; i < rows; i++) {
                            try (Connection c = pool.getConnection()) {
                                assertTrue(c.isWrapperFor(SyncConnection.class));
                                boolean manual = i % 2 == 0;
                                c.setAutoCommit(!manual);
                                long id;
                                try (PreparedStatement ins = c.prepareStatement(
                                        "INSERT INTO item (name, worker) VALUES (?, ?) RETURNING id")) {
                                    ins.setString(1, "w" + worker + "-" + i);
                                    ins.setInt(2, worker);
                                    try (var rs = ins.executeQuery()) {
                                        rs.next();
                                        id = rs.getLong(1);
                                    }
                                }
                                try (PreparedStatement up = c.prepareStatement("UPDATE item SET hits = hits + ? WHERE id = ?")) {
                                    up.setInt(1, 2);
                                    up.setLong(2, id);
                                    assertEquals(1, up.executeUpdate());
                                }
                                if (manual) {
                                    c.commit();
                                }
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : done) {
                    f.get();
                }
                threads.shutdown();
                owner.awaitSynced();
                cluster.awaitConverged("SELECT id, name, worker, hits FROM item ORDER BY id", owner);
                assertEquals((long) workers * rows, cluster.pgRows("SELECT count(DISTINCT id) AS n FROM item").get(0).get("n"));
                assertEquals(2L * workers * rows, cluster.pgRows("SELECT sum(hits) AS s FROM item").get(0).get("s"));
            }
        }
    }
}
