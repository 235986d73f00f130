package io.syncsqlite.it.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Driver;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Properties;
import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The self-contained driver jar, loaded the way a database tool loads a driver: alone in its own class
 * loader, found through {@code META-INF/services/java.sql.Driver}, with nothing else on the class path.
 */
class StandaloneDriverJarTest {

    @TempDir
    Path dir;

    @Test
    void theAllJarWorksAloneInItsOwnClassLoader() throws Exception {
        Path jar = Path.of(System.getProperty("syncsqlite.driverJar", "missing"));
        assertTrue(Files.isRegularFile(jar), "driver jar not built: " + jar);
        try (URLClassLoader loader = new URLClassLoader(new URL[]{jar.toUri().toURL()}, ClassLoader.getPlatformClassLoader())) {
            Driver driver = null;
            for (Driver d : ServiceLoader.load(Driver.class, loader)) {
                if (d.acceptsURL("jdbc:syncsqlite:x.db")) {
                    driver = d;
                }
            }
            assertNotNull(driver, "no syncsqlite driver registered in the jar's services");
            assertEquals(loader, driver.getClass().getClassLoader());
            // Relocated: the tool's own Jackson or JSqlParser can never clash with ours.
            loader.loadClass("io.syncsqlite.shaded.jackson.databind.ObjectMapper");
            try (Connection c = driver.connect("jdbc:syncsqlite:" + dir.resolve("tool.db") + "?sync.lingerMs=0", new Properties());
                 Statement st = c.createStatement()) {
                st.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
                st.execute("INSERT INTO t (v) VALUES ('from a database tool')");
                try (ResultSet rs = st.executeQuery("SELECT count(*) FROM _sync_outbox")) {
                    assertTrue(rs.next());
                    assertEquals(1, rs.getInt(1));
                }
            }
        }
    }
}
