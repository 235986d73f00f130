package io.syncsqlite.it.harness;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A client application ({@link WriterMain}) in its own JVM, so a test can kill it with SIGKILL while it
 * writes and syncs, then reopen its file in the test's JVM.
 */
public final class ClientProcess implements AutoCloseable {

    private final Process process;

    private ClientProcess(Process process) {
        this.process = process;
    }

    /** Starts the writer on {@code url} and returns once its connection is open. */
    public static ClientProcess start(String url, long seed, Path log) throws IOException {
        List<String> cmd = List.of(System.getProperty("java.home") + File.separator + "bin" + File.separator + "java",
                "-cp", System.getProperty("java.class.path"), WriterMain.class.getName(), url, String.valueOf(seed));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = out.readLine();
        if (!"ready".equals(line)) {
            p.destroyForcibly();
            throw new IllegalStateException("writer process did not start (" + line + "): "
                    + (Files.exists(log) ? Files.readString(log) : ""));
        }
        return new ClientProcess(p);
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** SIGKILL: no shutdown hook, no commit in flight finished, the socket dropped by the kernel. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("writer process survived SIGKILL");
        }
    }

    @Override
    public void close() throws InterruptedException {
        kill();
    }
}
