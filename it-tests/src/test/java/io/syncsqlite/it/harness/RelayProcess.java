package io.syncsqlite.it.harness;

import io.syncsqlite.it.support.PostgresFixture;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A relay in its own JVM, started with {@code RelayMain} exactly as an operator would, so a test can kill
 * it with SIGKILL in the middle of its work.
 */
public final class RelayProcess implements AutoCloseable {

    private final Process process;
    private final int port;

    private RelayProcess(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    public static RelayProcess start(String dbUrl, Path log) throws IOException, InterruptedException {
        return start(dbUrl, log, new String[0]);
    }

    /** With more command-line options after the database and listening ones. */
    public static RelayProcess start(String dbUrl, Path log, String... extraArgs) throws IOException, InterruptedException {
        PostgresFixture.Server server = PostgresFixture.server();
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        List<String> cmd = new ArrayList<>(List.of(
                System.getProperty("java.home") + File.separator + "bin" + File.separator + "java",
                "-cp", System.getProperty("java.class.path"), "io.syncsqlite.relay.RelayMain",
                "--pg-url", dbUrl, "--pg-user", server.user(), "--host", "127.0.0.1", "--port", String.valueOf(port)));
        if (!server.password().isEmpty()) {
            cmd.add("--pg-password");
            cmd.add(server.password());
        }
        cmd.addAll(List.of(extraArgs));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new IllegalStateException("relay process exited with " + p.exitValue() + "; see " + log);
            }
            try (Socket ignored = new Socket(InetAddress.getLoopbackAddress(), port)) {
                return new RelayProcess(p, port);
            } catch (IOException notYet) {
                Thread.sleep(50);
            }
        }
        p.destroyForcibly();
        throw new IllegalStateException("relay process did not listen within 60 s; see " + log);
    }

    public int port() {
        return port;
    }

    /** SIGKILL: no shutdown hook, no graceful drain, sockets dropped by the kernel. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    /** SIGTERM, as an init system or orchestrator stops the relay: waits for the exit and returns its code. */
    public int terminate(long timeoutSeconds) throws InterruptedException {
        process.destroy();
        if (!process.waitFor(timeoutSeconds, java.util.concurrent.TimeUnit.SECONDS)) {
            throw new IllegalStateException("relay process did not exit within " + timeoutSeconds + " s of SIGTERM");
        }
        return process.exitValue();
    }

    @Override
    public void close() {
        try {
            kill();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
